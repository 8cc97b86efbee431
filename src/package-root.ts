// Where the installed runx package lives, so compiled code finds the files that ship
// beside it (schema/, docs/protocol/) whether run from dist/ or through bin/runx.
import path from 'node:path';

/** The directory holding package.json: dist/<file>.js sits one level below it. */
export const packageRoot: string = path.resolve(__dirname, '..');
