import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentConnection } from '../../../../src/xcontainer/agent/agent-connection';
import { type Frame, FrameReader, FrameType, STDIN_WINDOW, encodeFrame } from '../../../../src/xcontainer/agent/agent-frames';
import { controlMessage, decodeControl, encodeControl } from '../../../../src/xcontainer/agent/agent-messages';

// A connection over a real unix socket; the test plays the agent's end.
async function connected(): Promise<{ conn: AgentConnection; agent: net.Socket; frames: Frame[]; done: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-agent-conn-'));
  const file = path.join(dir, 's');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(file, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const host = net.connect(file);
  const agent = await accepted;
  const frames: Frame[] = [];
  const reader = new FrameReader();
  agent.on('data', (d: Buffer) => frames.push(...reader.push(d)));
  const conn = new AgentConnection(host);
  return { conn, agent, frames, done: () => { host.destroy(); agent.destroy(); server.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

/** Resolves once cond holds; fails after 2 s. */
async function until(cond: () => boolean): Promise<void> {
  for (const end = Date.now() + 2000; !cond(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > end) throw new Error('condition not met within 2 s');
  }
}

const stdinBytes = (frames: Frame[], type: number) => frames.filter((f) => f.type === type).reduce((n, f) => n + f.payload.length - (type === FrameType['exec-stdin'] ? 4 : 0), 0);

describe('agent connection', () => {
  let done: (() => void) | undefined;
  afterEach(() => done?.());

  it('sends stdin only within the credit the agent grants, per stream, and says when to pause', async () => {
    const c = await connected();
    done = c.done;
    expect(c.conn.stdinStream().write(Buffer.alloc(STDIN_WINDOW + 1000))).toBe(false);
    // what is beyond the window waits on the host, so the exec'd stream is not behind it
    expect(c.conn.stdinStream().waiting).toBe(1000);
    expect(c.conn.stdinStream(7).write(Buffer.alloc(10))).toBe(true);
    await until(() => stdinBytes(c.frames, FrameType['exec-stdin']) === 10);
    expect(stdinBytes(c.frames, FrameType.stdin)).toBe(STDIN_WINDOW);
    let drained = false;
    c.conn.stdinStream().once('drain', () => { drained = true; });
    c.agent.write(encodeFrame(FrameType.control, encodeControl(controlMessage('credit', { bytes: 1000 }))));
    await until(() => drained);
    expect(c.conn.stdinStream().waiting).toBe(0);
    await until(() => stdinBytes(c.frames, FrameType.stdin) === STDIN_WINDOW + 1000);
  });

  it('joins a ps reply sent in parts into one', async () => {
    const c = await connected();
    done = c.done;
    const reply = c.conn.request('ps', {});
    await until(() => c.frames.some((f) => f.type === FrameType.control));
    const id = Number(decodeControl(c.frames.find((f) => f.type === FrameType.control)!.payload).fields.find(([k]) => k === 'id')![1]);
    for (const part of [{ proc: ['2:1:0:S:a'], more: 1 }, { proc: ['3:1:0:S:b'] }]) {
      c.agent.write(encodeFrame(FrameType.control, encodeControl(controlMessage('procs', { id, ...part }))));
    }
    const msg = await reply;
    expect(msg.fields.filter(([k]) => k === 'proc').map(([, v]) => v)).toEqual(['2:1:0:S:a', '3:1:0:S:b']);
  });
});
