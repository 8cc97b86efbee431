// The daemon's Migrator on top of runx's own live migration (src/migrate): `migrate`
// moves the running VM with pre-copy (auto-converge on, so a busy guest still
// converges before the deadline); `checkpointTo` stops the VM first and sends its
// stopped state and disk to the peer, which runs it: a checkpoint written to the
// peer and restored there in one stream, the fastest way out when pre-copy cannot fit.
import { messageOf } from '../errors';
import { migrateContainer } from '../migrate/migrate-container';
import { type RuntimeOptions, pauseContainer } from '../xcontainer';
import type { MigrateOptions, MigrationReport, Migrator } from './migrator';
import type { PeerView } from './policy/peers';

export class RunxMigrator implements Migrator {
  constructor(private readonly runtime: RuntimeOptions, private readonly tokenFileFor: (peer: PeerView) => string | undefined) {}

  async migrate(containerId: string, peer: PeerView, opts: MigrateOptions): Promise<MigrationReport> {
    return this.move(containerId, peer, 'live', opts.bandwidthMiBps);
  }

  async checkpointTo(containerId: string, peer: PeerView, opts?: { bandwidthMiBps?: number }): Promise<MigrationReport> {
    await pauseContainer(containerId, this.runtime).catch((err) => {
      // Already paused is fine; anything else means it cannot go this way either.
      if (!/not running/.test(messageOf(err))) throw err;
    });
    return this.move(containerId, peer, 'checkpoint-to-peer', opts?.bandwidthMiBps);
  }

  private async move(containerId: string, peer: PeerView, path: MigrationReport['path'], bandwidthMiBps?: number): Promise<MigrationReport> {
    const startedAt = new Date();
    const r = await migrateContainer(containerId, {
      to: peer.address, tokenFile: this.tokenFileFor(peer), bandwidthMiBps,
      autoConverge: true, postcopy: false, dryRun: false,
    }, this.runtime, () => undefined);
    return {
      containerId, peer: peer.name, path, startedAt, finishedAt: new Date(),
      bytes: (r.qemu?.ramBytes ?? 0) + (r.qemu?.diskBytes ?? 0), downtimeMs: r.qemu?.downtimeMs,
    };
  }
}
