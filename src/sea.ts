// Whether this process is runx's one-file binary (a Node single-executable application
// built by scripts/build-sea.js) and, if so, the files embedded in it. In the binary
// `require` reaches only Node's built-in modules, so what a checkout reads from disk
// (protocol files, the native addon) comes from here instead.
import type * as NodeSea from 'node:sea';

let sea: typeof NodeSea | null | undefined;

function seaModule(): typeof NodeSea | null {
  if (sea === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const m = require('node:sea') as typeof NodeSea;
      sea = m.isSea() ? m : null;
    } catch {
      sea = null; // a Node without node:sea runs from a checkout only
    }
  }
  return sea;
}

export function isSea(): boolean {
  return seaModule() !== null;
}

/** An embedded file's bytes, or undefined when not running as the one-file binary. */
export function seaAsset(name: string): Buffer | undefined {
  const m = seaModule();
  return m ? Buffer.from(m.getAsset(name)) : undefined;
}
