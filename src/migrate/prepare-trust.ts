// The names in a Prepare request, checked before the destination acts on any: the
// source is authenticated but not trusted with this host's files. The destination's
// own files all have fixed names in its state directory (<root>/<id>, the id checked
// like create's); the only host paths a request may name are network namespaces
// (--netns, or the source's own path), which must be absolute, normalised and
// actually namespace files (nsfs, by statfs), so a name like ../../etc/shadow is
// never opened or entered. Share paths are the bind-mount rules' (the destination takes
// them from its own configuration).
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { validateId } from '../xcontainer/state/state-store';
import type { PrepareRequest } from './proto';

/** statfs(2) f_type of the namespace filesystem (linux/magic.h NSFS_MAGIC). */
const NSFS_MAGIC = 0x6e736673;
const INSTANCE = /^[0-9a-f]{0,64}$/;

function checkNetnsSyntax(p: string, what: string): void {
  if (!path.isAbsolute(p) || path.normalize(p) !== p || p.split('/').includes('..')) {
    throw new RunxError('EUSAGE', `${what} ${JSON.stringify(p)} is not an absolute, normalised path`);
  }
}

/** Refuses `p` unless it is a namespace file (before anything opens or enters it). */
export function checkNetnsName(p: string, what: string): void {
  checkNetnsSyntax(p, what);
  let type: number | undefined;
  try {
    type = fs.statfsSync(p).type;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RunxError('ECONFIG', `${what} ${p} does not exist on this host (runx migrate --netns names the one to use)`);
  }
  if (type !== NSFS_MAGIC) throw new RunxError('ECONFIG', `${what} ${p} is not a network namespace on this host`);
}

/** Throws a one-line error for the first name in `req` the destination must not act on. */
export function checkPrepareNames(req: PrepareRequest): void {
  validateId(req.containerId);
  if (!INSTANCE.test(req.instance ?? '')) throw new RunxError('EUSAGE', 'Prepare: instance must be up to 64 hex digits');
  // Whether a path is a namespace here is checked where one is chosen (setupNic): the
  // source's own path is used only when nothing here names one.
  if (req.netnsPath) checkNetnsSyntax(req.netnsPath, 'Prepare: netns_path');
  if (req.nic?.netnsPath) checkNetnsSyntax(req.nic.netnsPath, 'Prepare: nic.netns_path');
}
