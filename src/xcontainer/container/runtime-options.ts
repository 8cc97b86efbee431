// The global flags every container operation receives from the CLI.
import type { LogOptions } from '../../log';
import type { AccelMode } from '../vm/accel';
import type { BootPolicy } from '../template/template';

export interface RuntimeOptions {
  root: string;
  accel: AccelMode;
  log: LogOptions;
  systemdCgroup: boolean;
  /** snapshot: start VMs from a saved template where possible; cold: always boot. */
  boot: BootPolicy;
}
