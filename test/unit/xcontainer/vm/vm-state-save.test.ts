import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { QmpClient } from '../../../../src/xcontainer/vm/qmp-client';
import { saveVmStateHere } from '../../../../src/xcontainer/vm/vm-state-save';

// Stands in for QEMU's side of a save: `migrate` connects to the socket and streams
// `data`; query-migrate says what `outcome` says once the stream is out.
function fakeQemu(data: Buffer, outcome: 'completed' | 'failed'): QmpClient {
  let sent = false;
  const qmp = {
    async execute(command: string, args: { uri?: string }) {
      if (command === 'migrate') {
        const sock = net.connect(args.uri!.replace(/^unix:/, ''));
        sock.on('error', () => undefined);
        sock.end(data, () => { sent = true; });
        return {};
      }
      if (command === 'query-migrate') return { status: sent ? outcome : 'active', ...(outcome === 'failed' ? { 'error-desc': 'Unable to write' } : {}) };
      return {};
    },
  };
  return qmp as unknown as QmpClient;
}

describe('saveVmStateHere', () => {
  let dir = '';
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the whole stream to a new 0600 file and removes its socket', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vm-save-'));
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const file = path.join(dir, 'vm.state');
    await saveVmStateHere(fakeQemu(data, 'completed'), file, path.join(dir, 's.sock'));
    expect(fs.readFileSync(file).equals(data)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(dir, 's.sock'))).toBe(false);
  });

  it('refuses a file that exists, and reports QEMU\'s failure', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vm-save-'));
    const file = path.join(dir, 'vm.state');
    fs.writeFileSync(file, 'planted');
    await expect(saveVmStateHere(fakeQemu(Buffer.from('x'), 'completed'), file, path.join(dir, 's.sock'))).rejects.toThrow(/cannot write vm.state: EEXIST/);
    expect(fs.readFileSync(file, 'utf8')).toBe('planted');
    await expect(saveVmStateHere(fakeQemu(Buffer.from('x'), 'failed'), path.join(dir, 'v2'), path.join(dir, 's.sock'))).rejects.toThrow(/saving the VM state failed: Unable to write/);
  });
});
