// What a state directory's launch.json may name. The file is runx's own, but a state
// directory is input like any other (a --root others can write, a copied directory):
// a launch.json naming /etc/shadow as the guest kernel must not get that file copied
// into a checkpoint image or sent to another host. The kernel and initramfs a VM runs
// are either this runx's guest assets (create) or the copies in the container's own
// state directory (restore, migration); any other path is refused.
import path from 'node:path';
import { RunxError } from '../../errors';
import { findGuestAssets } from '../vm/guest-assets';
import { assertPlainFile } from '../host/path-safety';
import type { KeeperLaunch } from '../keeper/keeper-launch';
import { VM_STATE_FILE } from '../vm/vm-snapshot';
import { templatesDir } from '../template/template-cache';

export interface GuestFiles {
  kernel: string;
  initramfs: string;
}

/** The kernel and initramfs of the container in `stateDir` (its launch.json's or vm-spec.json's), checked as above. */
export function trustedGuestFiles(stateDir: string, named: GuestFiles): GuestFiles {
  let assets: GuestFiles | undefined;
  try {
    assets = findGuestAssets();
  } catch { /* none here: only the state directory's own copies can be right */ }
  const check = (file: string, what: string, asset: string | undefined): string => {
    const own = path.dirname(path.resolve(file)) === path.resolve(stateDir);
    if (!own && path.resolve(file) !== asset) {
      throw new RunxError('ESTATE', `state directory ${stateDir} names ${file} as the guest ${what}, which is neither this runx's nor in the container's state directory`);
    }
    if (own) assertPlainFile(file, `state directory ${stateDir}`);
    return file;
  };
  return {
    kernel: check(named.kernel, 'kernel', assets?.kernel && path.resolve(assets.kernel)),
    initramfs: check(named.initramfs, 'initramfs', assets?.initramfs && path.resolve(assets.initramfs)),
  };
}

/**
 * launch.json as the keeper of `stateDir` may use it: its container is the one whose
 * directory it is (root and id come from the path, whatever the file says), a restored
 * VM's state is the copy in that directory, and a template's is in the template cache.
 */
export function anchorLaunch(stateDir: string, launch: KeeperLaunch): KeeperLaunch {
  const dir = path.resolve(stateDir);
  const anchored: KeeperLaunch = { ...launch, root: path.dirname(dir), id: path.basename(dir) };
  if (launch.restore) anchored.restore = { ...launch.restore, stateFile: path.join(dir, VM_STATE_FILE) };
  if (launch.template) {
    const rel = path.relative(templatesDir(), path.resolve(launch.template.stateFile));
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new RunxError('ESTATE', `${path.join(dir, 'launch.json')} names ${launch.template.stateFile} as its VM template, which is not in the template cache ${templatesDir()}`);
    }
  }
  return anchored;
}
