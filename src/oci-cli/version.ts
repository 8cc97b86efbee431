// `runx --version`, in runc's three-line shape (go-runc checks the first line's prefix).
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root';
import { OCI_VERSION } from '../xcontainer/container-record';

export function versionText(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  let commit = 'unknown';
  try {
    commit = (JSON.parse(fs.readFileSync(path.join(packageRoot, 'dist', 'build-info.json'), 'utf8')) as { commit: string }).commit;
  } catch { /* not built by the setup script */ }
  return `runx version ${pkg.version}\ncommit: ${commit}\nspec: ${OCI_VERSION}\n`;
}
