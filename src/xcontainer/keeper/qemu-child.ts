// The keeper's QEMU process: ending it on purpose (QMP quit, then SIGKILL), and
// knowing that it was on purpose, so its exit is not taken for the VM's crash.
import type { ChildProcess } from 'node:child_process';
import type { QmpClient } from '../vm/qmp-client';

export class QemuChild {
  /** Set while the keeper itself ends QEMU: its exit then is no surprise. */
  ending = false;

  constructor(readonly child: ChildProcess, private readonly qmp: QmpClient) {}

  /** Ends QEMU: QMP quit; SIGKILL if it has not gone within a second. */
  stop(): Promise<void> {
    return this.end(true);
  }

  /** Ends QEMU at once (SIGKILL), for a VM whose state nobody needs. */
  kill(): Promise<void> {
    return this.end(false);
  }

  private async end(quitFirst: boolean): Promise<void> {
    this.ending = true;
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (quitFirst) {
      await this.qmp.execute('quit', {}).catch(() => undefined);
      const quit = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]);
      if (quit) return;
    }
    child.kill('SIGKILL');
    await gone;
  }
}
