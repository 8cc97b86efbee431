import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogReader, OUTPUT_LOG, OUTPUT_LOG_PREVIOUS, OutputLog } from '../../../../src/xcontainer/keeper/output-log';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-outlog-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function readAll(r: LogReader, max = 65536): { text: string; streams: string } {
  let text = '';
  let streams = '';
  for (let i = 0; i < 10_000; i++) {
    const { records } = r.read(max);
    if (!records.length) break;
    for (const rec of records) {
      text += rec.data.toString();
      streams += rec.stream[3]!.repeat(rec.data.length);
    }
  }
  return { text, streams };
}

describe('output log', () => {
  it('keeps both streams in order, readable from any offset, also inside a record', () => {
    const log = new OutputLog(dir, 1 << 20);
    log.append('stdout', Buffer.from('hello '));
    log.append('stderr', Buffer.from('oops '));
    log.append('stdout', Buffer.from('world'));
    expect(log.end).toBe(16);
    const all = readAll(new LogReader(dir, 0));
    expect(all.text).toBe('hello oops world');
    expect(all.streams).toBe('ooooooeeeeeooooo');
    expect(readAll(new LogReader(dir, 8)).text).toBe('ps world');
    expect(readAll(new LogReader(dir, 16)).text).toBe('');
    // small reads split records without losing a byte
    expect(readAll(new LogReader(dir, 0), 3).text).toBe('hello oops world');
  });

  it('stays bounded, rotating into the previous segment, and a reader follows the rotations', () => {
    const bound = 65536;
    const log = new OutputLog(dir, bound);
    const follower = new LogReader(dir, 0);
    let expected = '';
    let got = '';
    for (let i = 0; i < 40000; i++) {
      const line = `${i}\n`;
      log.append('stdout', Buffer.from(line));
      expected += line;
      if (i % 7 === 0) got += readAll(follower).text;
      const size = fs.statSync(path.join(dir, OUTPUT_LOG)).size + (fs.existsSync(path.join(dir, OUTPUT_LOG_PREVIOUS)) ? fs.statSync(path.join(dir, OUTPUT_LOG_PREVIOUS)).size : 0);
      expect(size).toBeLessThanOrEqual(bound + 64);
    }
    got += readAll(follower).text;
    expect(got).toBe(expected);
    // a reader from the start now gets a gap, then the newest half of the bound or more, unbroken
    const late = new LogReader(dir, 0);
    const first = late.read();
    expect(first.gap?.from).toBe(0);
    const tail = first.records.map((r) => r.data.toString()).join('') + readAll(late).text;
    expect(expected.endsWith(tail)).toBe(true);
    // half the bound in file bytes: with 5-byte record headers on ~5-byte lines, a quarter in payload
    expect(tail.length).toBeGreaterThanOrEqual(bound / 4);
    expect(first.gap!.to).toBe(expected.length - tail.length);
  });

  it('goes on after a reopen, dropping a record cut short', () => {
    const log = new OutputLog(dir, 1 << 20);
    log.append('stdout', Buffer.from('abc'));
    log.close();
    // a write cut short: a header promising more than there is
    fs.appendFileSync(path.join(dir, OUTPUT_LOG), Buffer.from([1, 0, 0, 0, 9, 0x41]));
    expect(readAll(new LogReader(dir, 0)).text).toBe('abc');
    const again = new OutputLog(dir, 1 << 20);
    expect(again.end).toBe(3);
    again.append('stderr', Buffer.from('def'));
    expect(readAll(new LogReader(dir, 0)).text).toBe('abcdef');
  });
});
