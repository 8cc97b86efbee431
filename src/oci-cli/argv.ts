// Normalises the forms containerd and go-runc use that commander does not parse:
// single-dash long flags (`-no-subreaper`, `-root /x`, `-pid-file=/p`) become `--`.
// Only names runx knows as long options are rewritten, and nothing after `--` or after
// the verb's first operand (the container id): what follows it in `exec ID CMD...` is
// the container's command line, whose `-user` is find(1)'s, not ours.
export function normaliseArgv(args: readonly string[], longOptions: ReadonlySet<string>, valueOptions: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  let passthrough = false;
  let seenVerb = false;
  let expectValue = false;
  for (const arg of args) {
    if (passthrough || arg === '--') {
      passthrough = true;
      out.push(arg);
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (expectValue) expectValue = false;
      else if (!seenVerb) seenVerb = true;
      else passthrough = true;
      out.push(arg);
      continue;
    }
    const m = /^--?([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
    expectValue = !!m && !m[2] && valueOptions.has(m[1]!);
    out.push(m && !arg.startsWith('--') && longOptions.has(m[1]!) ? `-${arg}` : arg);
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

/**
 * The verb among args: the first word that is not a global flag or a global flag's
 * value. Lets the CLI load only that verb's module (start-up time counts four times
 * per container under containerd).
 */
export function verbOf(args: readonly string[], globalsWithValue: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1];
    if (!a.startsWith('-')) return a;
    const name = a.replace(/^--?/, '').split('=')[0]!;
    if (!a.includes('=') && globalsWithValue.has(name)) i++;
  }
  return undefined;
}
