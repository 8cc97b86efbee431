// What a migration destination does with bind mounts: nothing from the wire. A
// Prepare's share_paths (or a config.json it carries with bind mounts) would have this
// host export paths a token holder chose to a VM whose kernel it also sent; and a VM
// with a mounted virtio-9p share cannot migrate in QEMU 7.2 anyway, so the source
// refuses such a container (migrate-container.ts). A destination exports no host path.
import { RunxError } from '../errors';
import { isBindMount } from '../bundle/mount-plan';
import type { SpecConfig } from '../bundle/spec-types';
import type { PrepareRequest } from './proto';

/** Throws a one-line error if the request asks for any host path to be shared. */
export function refuseWireShares(req: Pick<PrepareRequest, 'sharePaths' | 'configJson' | 'containerId'>): void {
  if (req.sharePaths.length) {
    throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: share_paths is refused (${req.sharePaths.length} path(s)): a destination shares no host path a migration names`);
  }
  let config: SpecConfig;
  try {
    config = JSON.parse(req.configJson) as SpecConfig;
  } catch {
    throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: config_json is not JSON`);
  }
  const bind = (config.mounts ?? []).findIndex(isBindMount);
  if (bind >= 0) throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: config_json mounts[${bind}] is a bind mount of a host path, which a migration cannot carry`);
}
