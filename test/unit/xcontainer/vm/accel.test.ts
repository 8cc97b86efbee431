import { describe, expect, it } from 'vitest';
import { chooseAccel } from '../../../../src/xcontainer/vm/accel';

describe('accelerator choice', () => {
  const pvm = { kvmDeviceUsable: true, hardwareVirt: false, pvmOnly: true };
  const metal = { kvmDeviceUsable: true, hardwareVirt: true, pvmOnly: false };
  it('auto takes KVM only where a standard guest can boot', () => {
    expect(chooseAccel('auto', metal).accel).toBe('kvm');
    expect(chooseAccel('auto', pvm)).toEqual({ accel: 'tcg', reason: expect.stringContaining('PVM') });
    expect(chooseAccel('auto', { ...metal, kvmDeviceUsable: false }).accel).toBe('tcg');
  });
  it('refuses --accel kvm where KVM cannot run a standard guest', () => {
    expect(() => chooseAccel('kvm', pvm)).toThrow(/PVM/);
    expect(chooseAccel('tcg', metal).accel).toBe('tcg');
  });
});
