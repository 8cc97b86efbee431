// `runx --version`, in runc's three-line shape (go-runc checks the first line's prefix).
import { readPackageFile } from '../package-root';
import { OCI_VERSION } from '../xcontainer/state/container-record';

export function versionText(): string {
  const pkg = JSON.parse(readPackageFile('package.json')) as { version: string };
  let commit = 'unknown';
  try {
    commit = (JSON.parse(readPackageFile('dist/build-info.json')) as { commit: string }).commit;
  } catch { /* not built by the setup script */ }
  return `runx version ${pkg.version}\ncommit: ${commit}\nspec: ${OCI_VERSION}\n`;
}
