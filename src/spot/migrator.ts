// The seam between the spot daemon and whatever moves a container: the daemon decides
// who goes where, how and when; a Migrator does it. The live-migration implementation
// (src/migrate) plugs in here (runx-migrator.ts).
import type { PeerView } from './policy/peers';

export interface MigrateOptions {
  /** Bandwidth cap for the transfer (QEMU max-bandwidth), MiB/s. */
  bandwidthMiBps: number;
  /** When the host is taken; the transfer must end before it. */
  deadline: Date;
  /** Aborted when the daemon stops. */
  signal?: AbortSignal;
}

export interface MigrationReport {
  containerId: string;
  peer: string;
  path: 'live' | 'checkpoint-to-peer';
  startedAt: Date;
  finishedAt: Date;
  /** Bytes sent, if known. */
  bytes?: number;
  /** Guest downtime, ms, if known. */
  downtimeMs?: number;
}

export interface Migrator {
  /** Live-migrates the container to the peer; rejects if it cannot (the daemon then falls back). */
  migrate(containerId: string, peer: PeerView, opts: MigrateOptions): Promise<MigrationReport>;
  /** Pauses the container and writes its checkpoint to the peer, to be restored there. */
  checkpointTo(containerId: string, peer: PeerView, opts?: Omit<MigrateOptions, 'bandwidthMiBps'> & { bandwidthMiBps?: number }): Promise<MigrationReport>;
}
