// The runx build's own identity (package version and commit), read from the files the
// build leaves: `--version` shows it, a checkpoint manifest records it.
import { readPackageFile } from './package-root';

export interface RunxVersion {
  version: string;
  commit: string;
}

export function runxVersion(): RunxVersion {
  const pkg = JSON.parse(readPackageFile('package.json')) as { version: string };
  let commit = 'unknown';
  try {
    commit = (JSON.parse(readPackageFile('dist/build-info.json')) as { commit: string }).commit;
  } catch { /* not built by the setup script */ }
  return { version: pkg.version, commit };
}

/** "runx version 0.1.0": the first line of `runx --version`. */
export function runxVersionLine(v: RunxVersion = runxVersion()): string {
  return `runx version ${v.version}`;
}
