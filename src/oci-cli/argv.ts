// Normalises the forms containerd and go-runc use that commander does not parse:
// single-dash long flags (`-no-subreaper`, `-root /x`, `-pid-file=/p`) become `--`.
// Only names runx knows as long options are rewritten, and nothing after `--`.
export function normaliseArgv(args: readonly string[], longOptions: ReadonlySet<string>): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const arg of args) {
    if (passthrough || arg === '--') {
      passthrough = true;
      out.push(arg);
      continue;
    }
    const m = /^-([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
    out.push(m && longOptions.has(m[1]!) ? `-${arg}` : arg);
  }
  return out;
}

/** True when --version/-v comes among the global flags, before any verb. */
export function wantsVersion(args: readonly string[], verbs: ReadonlySet<string>): boolean {
  for (const arg of args) {
    if (arg === '--version' || arg === '-v') return true;
    if (verbs.has(arg) || arg === '--') return false;
  }
  return false;
}
