import { describe, expect, it } from 'vitest';
import { parseQemuBuild, ramPadKiB, resizeOrder, TCG_RAM_PAD_KIB } from '../../../../src/xcontainer/vm/qemu-version';

describe('QEMU version differences', () => {
  it('reads the version from a build line', () => {
    expect(parseQemuBuild('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)')).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(parseQemuBuild('QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)')).toEqual({ major: 10, minor: 0, micro: 2 });
    expect(parseQemuBuild('QEMU emulator version 9.1')).toEqual({ major: 9, minor: 1, micro: 0 });
    expect(parseQemuBuild('something else')).toBeUndefined();
  });
  it('pads TCG RAM only where the dirty-bitmap bug exists (before 9.0)', () => {
    expect(ramPadKiB('tcg', 'QEMU emulator version 7.2.22')).toBe(TCG_RAM_PAD_KIB);
    expect(ramPadKiB('tcg', 'QEMU emulator version 8.2.2')).toBe(TCG_RAM_PAD_KIB);
    expect(ramPadKiB('tcg', 'QEMU emulator version 9.0.0')).toBe(0);
    expect(ramPadKiB('tcg', 'QEMU emulator version 10.0.2')).toBe(0);
    expect(ramPadKiB('kvm', 'QEMU emulator version 7.2.22')).toBe(0);
    expect(ramPadKiB('tcg', '')).toBe(TCG_RAM_PAD_KIB);
  });
  it('resizes a loaded disk before cont where QEMU lets it', () => {
    expect(resizeOrder({ major: 7, minor: 2, micro: 22 })).toBe('before-cont');
    expect(resizeOrder({ major: 9, minor: 2, micro: 0 })).toBe('after-cont');
    expect(resizeOrder({ major: 10, minor: 0, micro: 2 })).toBe('activate-first');
    expect(resizeOrder({ major: 11, minor: 0, micro: 0 })).toBe('activate-first');
  });
});
