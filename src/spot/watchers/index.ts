// Picks the watcher for a provider kind; `none` (on-demand hosts, or no cloud) has none.
import type { Watcher } from '../notice';
import { AwsWatcher } from './aws';
import { AzureWatcher } from './azure';
import { GcpWatcher } from './gcp';
import type { PollOptions } from './poll-loop';

export { AwsWatcher } from './aws';
export { AzureWatcher } from './azure';
export { GcpWatcher } from './gcp';

export function createWatcher(kind: 'aws' | 'gcp' | 'azure' | 'none', opts: Partial<PollOptions>): Watcher | undefined {
  switch (kind) {
    case 'aws': return new AwsWatcher(opts);
    case 'gcp': return new GcpWatcher(opts);
    case 'azure': return new AzureWatcher(opts);
    case 'none': return undefined;
  }
}
