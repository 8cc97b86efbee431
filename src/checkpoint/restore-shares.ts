// The host paths a restored VM's share exports: only the restoring bundle's config.json
// names them, planned by the same rules as create (planMounts). The image's manifest
// (`shares`) and its config.json are the image's word, which may be anyone's: they
// only say how many share devices the saved VM has, which must match.
import { RunxError } from '../errors';
import { LIVE_SHARE_ANNOTATION, isBindMount, planMounts, type StagedBind } from '../bundle/mount-plan';
import { CARRY_DISK } from '../xcontainer/devices/carry/config';
import type { SpecConfig } from '../bundle/spec-types';
import type { CheckpointManifest } from './manifest';

/**
 * The binds to stage for the restored VM; throws a one-line error when the image's
 * container bind-mounts host paths but no bundle config names them, or the saved
 * VM's share devices are not those the bundle's config gives.
 */
export function restoreBinds(image: string, manifest: CheckpointManifest, imageConfig: SpecConfig,
  bundle: { config: SpecConfig; dir: string } | undefined): StagedBind[] {
  const imageBinds = (imageConfig.mounts ?? []).some(isBindMount);
  if (!bundle && imageBinds) {
    throw new RunxError('ECONFIG', `checkpoint image ${image}: its container bind-mounts host paths; restore it with a --bundle whose config.json names them (host paths are never taken from an image)`);
  }
  let binds = bundle ? planMounts(bundle.config.mounts ?? [], bundle.dir, bundle.config.annotations).binds : [];
  const want = binds.length ? 1 : 0;
  const saved = Array.isArray(manifest.shares) ? manifest.shares.length : -1;
  if (saved !== want) {
    throw new RunxError('ECONFIG', `checkpoint image ${image} was saved with ${saved < 0 ? 'no valid list of' : saved} share device(s); the bundle's config.json gives ${want}`);
  }
  // The saved agent copies slot i to and from bind i: the binds must be the saved
  // ones, in order, each carried or live as it was.
  const savedBinds = manifest.shares[0]?.binds;
  if (want && Array.isArray(savedBinds)) {
    if (savedBinds.length !== binds.length) {
      throw new RunxError('ECONFIG', `checkpoint image ${image} was saved with ${savedBinds.length} bind mount(s); the bundle's config.json gives ${binds.length}`);
    }
    binds = inSavedOrder(image, binds, savedBinds);
    const differs = binds.findIndex((b, i) => (b.carried === true) !== (savedBinds[i]?.carried === true));
    if (differs >= 0) {
      throw new RunxError('ECONFIG', `checkpoint image ${image}: bind mount ${binds[differs]!.destination ?? differs} was saved ${savedBinds[differs]?.carried === true ? 'carried' : 'as a live share'}, and the bundle's config.json (annotation ${LIVE_SHARE_ANNOTATION}) makes it ${binds[differs]!.carried === true ? 'carried' : 'a live share'}`);
    }
  }
  const carries = binds.some((b) => b.carried === true);
  if (carries !== (CARRY_DISK in manifest.files)) {
    throw new RunxError('ECONFIG', `checkpoint image ${image} ${carries ? 'has no carry disk, but the bundle\'s config.json carries bind mounts' : 'has a carry disk, but the bundle\'s config.json carries no bind mount'}`);
  }
  return binds;
}

/**
 * The bundle's binds in the saved VM's slot order, matched by container path: an
 * engine may list its binds in another order when it writes the config again
 * (Podman's restore --import does), and slot i's data must go back to bind i's source.
 * Among binds to one path, in their order. A saved list without paths (an image of an
 * earlier runx) keeps the bundle's order.
 */
function inSavedOrder(image: string, binds: StagedBind[], saved: readonly StagedBind[]): StagedBind[] {
  if (!saved.every((b) => typeof b.destination === 'string')) return binds;
  const left = [...binds];
  return saved.map((s) => {
    const i = left.findIndex((b) => b.destination === s.destination);
    if (i < 0) throw new RunxError('ECONFIG', `checkpoint image ${image} has a bind mount at ${s.destination}; the bundle's config.json has none there`);
    return left.splice(i, 1)[0]!;
  });
}
