import { describe, expect, it } from 'vitest';
import { RunxError } from '../../../../src/errors';
import { diskFullCodeIn, writeFailure } from '../../../../src/xcontainer/host/write-failure';

describe('writeFailure', () => {
  it('names a full disk plainly, with its errno', () => {
    const err = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(writeFailure('vm.state', err).message).toBe('cannot write vm.state: no space left on device (ENOSPC)');
    expect(writeFailure('x', Object.assign(new Error('q'), { code: 'EDQUOT' })).message).toBe('cannot write x: disk quota exceeded (EDQUOT)');
  });
  it('gives other errnos by code and passes runx errors through', () => {
    expect(writeFailure('x', Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })).message).toBe('cannot write x: EIO');
    const own = new RunxError('EQMP', 'QEMU said no');
    expect(writeFailure('x', own)).toBe(own);
  });
  it('finds a full disk in a tool\'s stderr', () => {
    expect(diskFullCodeIn("cp: error writing '/img/rootfs.ext4': No space left on device")).toBe('ENOSPC');
    expect(diskFullCodeIn('cp: cannot stat \'x\': No such file or directory')).toBeUndefined();
  });
});
