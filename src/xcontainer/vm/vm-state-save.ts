// Saving a stopped VM's state into a checkpoint image, written by this process: QEMU
// sends its migration stream to a unix socket we listen on, and we write it to the
// file. With exec:cat (vm-snapshot.ts) a write that fails for want of room ends cat,
// and QEMU reports only a broken pipe; here the file's own error (ENOSPC) is at hand,
// so the one error line can name it.
import fs from 'node:fs';
import net from 'node:net';
import { RunxError } from '../../errors';
import { sleep } from '../host/host';
import { writeFailure } from '../host/write-failure';
import type { QmpClient } from './qmp-client';
import { awaitSave } from './vm-snapshot';

/** In the state directory: where QEMU sends a checkpoint's VM state. */
export const VM_SAVE_SOCKET = 'vm-save.sock';

/** After QEMU reports the save complete, how long the rest of the stream may take to reach the file. */
const FLUSH_MS = 30_000;

/**
 * Writes the (stopped) VM's state to `file` (a new file); resolves once all of it is
 * written. `socket` is where QEMU connects: a name in the directory both QEMU and we
 * run in (the state directory, 0700), so its length never matters.
 */
export async function saveVmStateHere(qmp: QmpClient, file: string, socket: string, timeoutMs = 120_000): Promise<void> {
  const what = file.split('/').pop()!;
  const out = fs.createWriteStream(file, { flags: 'wx', mode: 0o600 });
  let failed: Error | undefined;
  let stream: net.Socket | undefined;
  const written = new Promise<void>((resolve) => {
    out.once('finish', resolve);
    out.once('error', (err) => {
      failed = writeFailure(what, err);
      // QEMU's write fails next, and with it the migration.
      stream?.destroy();
      resolve();
    });
  });
  // The file is made before QEMU sends anything: one that cannot be is the error.
  await new Promise<void>((resolve) => {
    out.once('ready', resolve);
    out.once('error', () => resolve());
  });
  if (failed) throw failed;
  // QEMU's is the only connection: nothing else is let into the state directory.
  const server = net.createServer((sock) => {
    if (stream) return void sock.destroy();
    stream = sock;
    sock.on('error', () => out.end());
    sock.pipe(out);
  });
  fs.rmSync(socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, resolve);
  });
  try {
    await qmp.execute('migrate', { uri: `unix:${socket}` });
    // A failed save: the file's own error (a full disk) once the writer has it.
    await awaitSave(qmp, timeoutMs, async () => {
      await Promise.race([written, sleep(1000)]);
      return failed;
    });
    // Completed: QEMU closes the stream, and the rest of it reaches the file.
    const flushed = await Promise.race([written.then(() => true), sleep(FLUSH_MS).then(() => false)]);
    if (failed) throw failed;
    if (!flushed) throw new RunxError('EQMP', `the VM state QEMU sent was not all written within ${FLUSH_MS / 1000} s`);
  } finally {
    stream?.destroy();
    out.destroy();
    server.close();
    fs.rmSync(socket, { force: true });
  }
}
