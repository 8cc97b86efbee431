// A claimed state directory that a concurrent `delete --force` removed (or that was
// removed and claimed anew) under a create or restore still in progress: such a create
// must fail, saying so, not exit 0 for a container that no longer exists.
import fs from 'node:fs';
import { RunxError } from '../../errors';

export class ClaimGuard {
  private readonly ino: number;

  constructor(private readonly id: string, private readonly dir: string) {
    this.ino = fs.statSync(dir).ino;
  }

  /** True while the directory is the one this call claimed. */
  held(): boolean {
    try {
      return fs.statSync(this.dir).ino === this.ino;
    } catch {
      return false;
    }
  }

  /** The error to report: a clear one if the claim was lost, else `err` as it was. */
  explain(err: unknown): unknown {
    return this.held() ? err : this.lost();
  }

  /** Throws if the claim was lost. */
  check(): void {
    if (!this.held()) throw this.lost();
  }

  private lost(): RunxError {
    return new RunxError('ESTATE', `container "${this.id}" was deleted (delete --force) while it was being created`);
  }
}
