// The global flags every container operation receives from the CLI.
import type { LogOptions } from '../log';
import type { AccelMode } from './accel';

export interface RuntimeOptions {
  root: string;
  accel: AccelMode;
  log: LogOptions;
  systemdCgroup: boolean;
}
