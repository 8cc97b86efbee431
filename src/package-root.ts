// Where the installed runx package lives, so compiled code finds the files that ship
// beside it (schema/, docs/protocol/) whether run from dist/ or through bin/runx; in
// the one-file binary the same files are embedded under the same relative names.
import fs from 'node:fs';
import path from 'node:path';
import { seaAsset } from './sea';

/** The directory holding package.json: dist/<file>.js sits one level below it. */
export const packageRoot: string = path.resolve(__dirname, '..');

/**
 * A file shipped with runx, by its path relative to the package root. Every name read
 * here must be listed in scripts/build-sea.js's ASSETS.
 */
export function readPackageFile(relativePath: string): string {
  const embedded = seaAsset(relativePath);
  return embedded ? embedded.toString('utf8') : fs.readFileSync(path.join(packageRoot, relativePath), 'utf8');
}
