// Chooses the accelerator. `auto` uses KVM only where a standard guest kernel can boot:
// /dev/kvm usable, hardware virtualisation flags present, and not a PVM-only KVM
// (kvm_pvm boots only PVM-patched guests; a standard kernel hangs silently there).
import fs from 'node:fs';
import { RunxError } from '../../errors';

export type AccelMode = 'auto' | 'kvm' | 'tcg';
export type Accel = 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accel;
  reason: string;
}

export interface AccelProbeFacts {
  kvmDeviceUsable: boolean;
  hardwareVirt: boolean;
  pvmOnly: boolean;
}

export function probeHost(): AccelProbeFacts {
  let kvmDeviceUsable = false;
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    kvmDeviceUsable = true;
  } catch { /* absent or no permission */ }
  let hardwareVirt = false;
  try {
    hardwareVirt = /^flags\s*:.*\b(vmx|svm)\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch { /* not Linux? */ }
  const pvmOnly = fs.existsSync('/sys/module/kvm_pvm');
  return { kvmDeviceUsable, hardwareVirt, pvmOnly };
}

export function chooseAccel(mode: AccelMode, facts: AccelProbeFacts = probeHost()): AccelChoice {
  const kvmOk = facts.kvmDeviceUsable && facts.hardwareVirt && !facts.pvmOnly;
  const why = !facts.kvmDeviceUsable ? '/dev/kvm is not usable'
    : facts.pvmOnly ? '/dev/kvm is PVM (kvm_pvm), which cannot boot a standard guest kernel'
      : !facts.hardwareVirt ? 'the CPU shows no vmx/svm flag' : '';
  if (mode === 'tcg') return { accel: 'tcg', reason: 'requested with --accel tcg' };
  if (mode === 'kvm') {
    if (!kvmOk) throw new RunxError('EHOST', `--accel kvm: KVM cannot run a standard guest here: ${why}`);
    return { accel: 'kvm', reason: 'requested with --accel kvm' };
  }
  return kvmOk ? { accel: 'kvm', reason: 'auto: KVM is usable' } : { accel: 'tcg', reason: `auto: ${why}; using TCG` };
}

export function parseAccelMode(value: string): AccelMode {
  if (value === 'auto' || value === 'kvm' || value === 'tcg') return value;
  throw new RunxError('EUSAGE', `--accel must be auto, kvm or tcg, not "${value}"`);
}
