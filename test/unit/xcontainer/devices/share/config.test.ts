// devices/share: the staging command before QEMU, and QEMU's export of the staging
// directory (only runx's own path in QEMU's argv, escaped all the same).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { containerShares, SHARE_DIR, stageCommand } from '../../../../../src/xcontainer/devices/share/config';
import { qemuArgv } from '../../../../../src/xcontainer/vm/qemu-argv';

describe('container share', () => {
  const binds = [
    { source: '/srv/x,path=/etc', readonly: false, recursive: true },
    { source: '/etc/hosts', readonly: true, recursive: false },
  ];

  it('is none without binds, else one staged in the state directory', () => {
    expect(containerShares([])).toEqual([]);
    expect(stageCommand([])).toEqual([]);
    const shares = containerShares(binds);
    expect(shares).toEqual([{ tag: 'runx0', hostPath: SHARE_DIR, readonly: false, binds }]);
    const cmd = stageCommand(shares);
    expect(path.basename(cmd[0]!)).toBe('runx-share-stage');
    expect(cmd.slice(1)).toEqual([SHARE_DIR, 'rrw', '/srv/x,path=/etc', 'ro', '/etc/hosts', '--']);
  });

  it('reaches QEMU as the staging directory only, never a source path', () => {
    const shares = [{ tag: 'runx0', hostPath: SHARE_DIR, readonly: false, binds }];
    const argv = qemuArgv({ accel: 'tcg', qemuBuild: 'QEMU emulator version 7.2.22', kernel: '/k', initramfs: '/i', shape: { memoryMiB: 128, vcpus: 1 }, shares });
    expect(argv).toContain('local,id=runx0,path=shares,security_model=passthrough,multidevs=remap');
    expect(argv.join(' ')).not.toContain('/srv/x');
    // A template's placeholder path is escaped like any option value.
    const t = qemuArgv({ accel: 'tcg', qemuBuild: 'QEMU emulator version 7.2.22', kernel: '/k', initramfs: '/i', shape: { memoryMiB: 128, vcpus: 1 }, shares: [{ tag: 'runx0', hostPath: '/c/a,b', readonly: false }] });
    expect(t).toContain('local,id=runx0,path=/c/a,,b,security_model=passthrough,multidevs=remap');
  });
});
