// `runx logs`: the container's stdout and stderr from its durable output log
// (keeper/output-log.ts), each to its own stream; with follow, on until the
// container has stopped and the log is read to its end.
import { sleep } from '../host/host';
import { LogReader } from '../keeper/output-log';
import { StateStore } from '../state/state-store';
import type { RuntimeOptions } from './runtime-options';

export interface LogSinks {
  stdout(b: Buffer): void;
  stderr(b: Buffer): void;
}

/** How often a follow looks for more. */
const FOLLOW_POLL_MS = 100;

export async function containerLogs(id: string, runtime: RuntimeOptions, opts: { follow: boolean }, sinks: LogSinks): Promise<void> {
  const store = new StateStore(runtime.root);
  store.read(id);
  const reader = new LogReader(store.dir(id), 0);
  try {
    for (;;) {
      // Read whether it has stopped before draining: what it wrote before stopping is then all read.
      const stopped = !opts.follow || store.readLive(id).status === 'stopped';
      for (;;) {
        const { records } = reader.read();
        if (!records.length) break;
        for (const r of records) (r.stream === 'stdout' ? sinks.stdout : sinks.stderr)(r.data);
      }
      if (stopped) return;
      await sleep(FOLLOW_POLL_MS);
    }
  } finally {
    reader.close();
  }
}
