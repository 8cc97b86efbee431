import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentConnection, reconnectMismatch } from '../../../../src/xcontainer/agent/agent-connection';
import { type Frame, FrameReader, FrameType, PROTOCOL_VERSION, STDIN_WINDOW, encodeFrame } from '../../../../src/xcontainer/agent/agent-frames';
import { controlMessage, decodeControl, encodeControl } from '../../../../src/xcontainer/agent/agent-messages';

// A connection over a real unix socket; the test plays the agent's end.
async function connected(opts: { resumed?: boolean } = {}): Promise<{ conn: AgentConnection; agent: net.Socket; frames: Frame[]; done: () => void }> {
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
  const conn = new AgentConnection(host, opts);
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

  it('keeps the container\'s output and exit that come before anyone listens, and gives them in order once someone does', async () => {
    // A restored VM runs from cont, inside bootVm, before the keeper listens: its first line came and went.
    const c = await connected({ resumed: true });
    done = c.done;
    c.agent.write(encodeFrame(FrameType.stdout, Buffer.from('21\n')));
    c.agent.write(encodeFrame(FrameType.stderr, Buffer.from('e\n')));
    c.agent.write(encodeFrame(FrameType.stdout, Buffer.from('22\n')));
    c.agent.write(encodeFrame(FrameType.control, encodeControl(controlMessage('exit', { code: 3 }))));
    await new Promise((r) => setTimeout(r, 100));
    const got: string[] = [];
    c.conn.on('stdout', (b) => got.push(`out ${b.toString().trim()}`));
    c.conn.on('stderr', (b) => got.push(`err ${b.toString().trim()}`));
    c.conn.on('exit', (e) => got.push(`exit ${JSON.stringify(e)}`));
    await until(() => got.length === 4);
    expect(got).toEqual(['out 21', 'err e', 'out 22', 'exit {"code":3}']);
    // once listened to, output goes straight through
    c.agent.write(encodeFrame(FrameType.stdout, Buffer.from('23\n')));
    await until(() => got.length === 5);
    expect(got[4]).toBe('out 23');
  });

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

  const hello = (fields: Record<string, string | number>) => encodeFrame(FrameType.control, encodeControl(controlMessage('hello', fields)));
  const controls = (frames: Frame[]) => frames.filter((f) => f.type === FrameType.control).map((f) => decodeControl(f.payload));

  it('ping resumes the container stdin credit from the agent\'s held bytes', async () => {
    const c = await connected();
    done = c.done;
    const pinged = c.conn.ping();
    await until(() => controls(c.frames).some((m) => m.name === 'ping'));
    const id = controls(c.frames).find((m) => m.name === 'ping')!.fields.find(([k]) => k === 'id')![1];
    // The restored agent still holds 1000 bytes of the old keeper's input, ungranted.
    c.agent.write(encodeFrame(FrameType.control, encodeControl(controlMessage('ok', { id: String(id), held: 1000 }))));
    await pinged;
    expect(c.conn.stdinStream().write(Buffer.alloc(STDIN_WINDOW))).toBe(false);
    expect(c.conn.stdinStream().waiting).toBe(1000);
    await until(() => stdinBytes(c.frames, FrameType.stdin) === STDIN_WINDOW - 1000);
    // Granting back the held bytes lets the rest go: nothing lost, nothing sent twice.
    c.agent.write(encodeFrame(FrameType.control, encodeControl(controlMessage('credit', { bytes: 1000 }))));
    await until(() => stdinBytes(c.frames, FrameType.stdin) === STDIN_WINDOW);
    expect(c.conn.stdinStream().waiting).toBe(0);
  });

  it('a resumed connection refuses a reconnect hello of another protocol in one line, sending nothing more', async () => {
    const c = await connected({ resumed: true });
    done = c.done;
    const refused: string[] = [];
    c.conn.on('refused', (why) => refused.push(why));
    const waiting = c.conn.request('ps', {}).then(() => undefined, (err: Error) => err.message);
    await until(() => controls(c.frames).some((m) => m.name === 'ps'));
    c.agent.write(hello({ proto: PROTOCOL_VERSION + 1, agent: 'runx-agent/9' }));
    await until(() => refused.length === 1);
    expect(refused[0]).toMatch(new RegExp(`^the guest agent reconnected speaking protocol ${PROTOCOL_VERSION + 1}, agent runx-agent/9, but this runx speaks agent protocol ${PROTOCOL_VERSION}: nothing more is sent to it and the container is left as it is`));
    expect(refused[0]).not.toContain('\n');
    expect(await waiting).toMatch(/reconnected speaking protocol/);
    await expect(c.conn.request('kill', { signal: 9, all: false })).rejects.toMatchObject({ code: 'EPROTO' });
    const before = c.frames.length;
    expect(c.conn.stdinStream().write(Buffer.from('x'))).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.frames.length).toBe(before);
  });

  it('a reconnect hello of another agent than the boot hello named is refused; the same agent resumes credit from held', async () => {
    const c = await connected();
    done = c.done;
    const refused: string[] = [];
    c.conn.on('refused', (why) => refused.push(why));
    c.agent.write(hello({ proto: PROTOCOL_VERSION, agent: 'runx-agent/0.1' }));
    await new Promise((r) => c.conn.once('hello', r));
    // Same agent, holding 10 bytes: the credit left is the window less those.
    c.agent.write(hello({ proto: PROTOCOL_VERSION, agent: 'runx-agent/0.1', held: 10 }));
    await new Promise((r) => c.conn.once('hello', r));
    expect(c.conn.stdinStream().write(Buffer.alloc(STDIN_WINDOW))).toBe(false);
    expect(c.conn.stdinStream().waiting).toBe(10);
    c.agent.write(hello({ proto: PROTOCOL_VERSION, agent: 'runx-agent/0.2' }));
    await until(() => refused.length === 1);
    expect(refused[0]).toMatch(/^the guest agent reconnected as runx-agent\/0\.2, but this VM booted runx-agent\/0\.1: /);
    expect(reconnectMismatch(controlMessage('hello', { proto: PROTOCOL_VERSION }), undefined)).toMatch(/without naming itself/);
    expect(reconnectMismatch(controlMessage('hello', { proto: PROTOCOL_VERSION, agent: 'a' }), undefined)).toBeUndefined();
  });

  it('holdStdin sends no stdin until released, and resolves once the agent answered a ping behind what was sent', async () => {
    const c = await connected();
    done = c.done;
    const stream = c.conn.stdinStream();
    stream.write(Buffer.alloc(10));
    const held = c.conn.holdStdin();
    stream.write(Buffer.alloc(5));
    // A stream made during the hold is held too.
    c.conn.stdinStream(3).write(Buffer.alloc(4));
    await until(() => controls(c.frames).some((m) => m.name === 'ping'));
    // The ping follows the 10 bytes sent before the hold; the rest wait.
    expect(c.frames.map((f) => f.type)).toEqual([FrameType.stdin, FrameType.control]);
    const id = controls(c.frames).find((m) => m.name === 'ping')!.fields.find(([k]) => k === 'id')![1];
    c.agent.write(encodeFrame(FrameType.control, encodeControl(controlMessage('ok', { id: String(id) }))));
    expect(await held).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(stdinBytes(c.frames, FrameType.stdin)).toBe(10);
    c.conn.releaseStdin();
    await until(() => stdinBytes(c.frames, FrameType.stdin) === 15 && stdinBytes(c.frames, FrameType['exec-stdin']) === 4);
  });
  it('after suspendStdin, the container\'s stdin outlives the VM\'s end: what comes after its socket closed waits for handOff', async () => {
    const c = await connected();
    done = c.done;
    const stream = c.conn.stdinStream();
    stream.write(Buffer.from('sent\n'));
    await until(() => stdinBytes(c.frames, FrameType.stdin) === 5);
    c.conn.suspendStdin();
    stream.write(Buffer.from('a\n'));
    // The sent VM's QEMU quits: its agent's socket closes before the stand-in takes over.
    const closed = new Promise((r) => c.conn.once('close', r));
    c.agent.destroy();
    await closed;
    stream.write(Buffer.from('b\n'));
    c.conn.stdinStream(3).write(Buffer.from('exec'));
    const handed = stream.handOff();
    expect(Buffer.concat(handed.waiting).toString()).toBe('a\nb\n');
    expect(c.conn.stdinStream(3).waiting).toBe(0);
  });
});
