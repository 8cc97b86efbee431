// A write that failed for want of room says so plainly: whoever reads the one error
// line must know to free space or write elsewhere, and what a full disk looks like
// from the far side of a pipe (EPIPE, a failed migration) says nothing of that.
import { RunxError, messageOf } from '../../errors';

const PLAIN: Record<string, string> = {
  ENOSPC: 'no space left on device (ENOSPC)',
  EDQUOT: 'disk quota exceeded (EDQUOT)',
};

/** strerror's text of the codes above, as a tool such as cp prints it (LC_ALL=C). */
const STRERROR: Array<[RegExp, string]> = [[/No space left on device/, 'ENOSPC'], [/Disk quota exceeded/, 'EDQUOT']];

/** The plain words for an errno code that means the disk is full, if it is one. */
export function diskFullText(code: string | undefined): string | undefined {
  return code ? PLAIN[code] : undefined;
}

/** The errno code a tool's stderr names, when it is one of a full disk. */
export function diskFullCodeIn(stderr: string): string | undefined {
  return STRERROR.find(([re]) => re.test(stderr))?.[1];
}

/** The error for a failed write of `what`: a RunxError as it is, else its errno in words. */
export function writeFailure(what: string, err: unknown): Error {
  if (err instanceof RunxError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new RunxError('EHOST', `cannot write ${what}: ${diskFullText(code) ?? (code || messageOf(err))}`, { cause: err });
}
