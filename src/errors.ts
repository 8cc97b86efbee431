// The one error type every runx module throws. The CLI's exit handler is the only
// place that prints an error: one line on stderr (and the JSON log), exit code 1.

/** Stable machine-readable error codes; messages are for people. */
export type RunxErrorCode =
  | 'EUSAGE'
  | 'ECONFIG'
  | 'ENOTFOUND'
  | 'EEXIST'
  | 'ESTATE'
  | 'EBOOT'
  | 'EAGENT'
  | 'EQMP'
  | 'EHOST'
  | 'ELOCKED'
  /** The two ends of a runx protocol speak different versions of it. */
  | 'EPROTO'
  | 'EINTERNAL';

export class RunxError extends Error {
  readonly code: RunxErrorCode;
  constructor(code: RunxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'RunxError';
  }
}

/** A bundle's config.json is unusable; `field` names the offending field. */
export class ConfigError extends RunxError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('ECONFIG', message, options);
    this.field = field;
  }
}

/** runc's wording, which containerd's shim matches on ("does not exist"). */
export function containerNotFound(id: string): RunxError {
  return new RunxError('ENOTFOUND', `container "${id}" does not exist`);
}

/** runc's wording, which containerd's shim matches on ("container not running"). */
export function containerNotRunning(id: string): RunxError {
  return new RunxError('ESTATE', `container "${id}" not running: container not running`);
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The code of a RunxError; anything else is EINTERNAL. */
export function codeOf(err: unknown): RunxErrorCode {
  return err instanceof RunxError ? err.code : 'EINTERNAL';
}
