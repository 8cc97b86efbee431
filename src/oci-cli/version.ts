// `runx --version`, in runc's three-line shape (go-runc checks the first line's prefix).
import { runxVersion, runxVersionLine } from '../runx-version';
import { OCI_VERSION } from '../xcontainer';

export function versionText(): string {
  const v = runxVersion();
  return `${runxVersionLine(v)}\ncommit: ${v.commit}\nspec: ${OCI_VERSION}\n`;
}
