// linux.seccomp → a classic BPF program for seccomp(SECCOMP_SET_MODE_FILTER), built on
// the host so the agent only installs bytes (no libseccomp in a static musl guest).
// x86_64 only: the guest is x86_64, and a syscall made through another ABI (i386
// int 0x80, x32) is refused with ENOSYS whatever the config says, since the rules'
// numbers are x86_64 numbers and would not mean the same call there.
//
// Shape of the program (A, the BPF accumulator, holds the syscall number between rules):
//   ld arch; jeq X86_64 ? next : deny; ld nr; jge X32_BIT ? deny : next
//   per syscall name of each rule, in config order (the first matching rule decides):
//     no args:   jeq NR ? next : skip1; ret ACTION
//     with args: jeq NR ? next : skip; <64-bit compares, any failure → reload>;
//                ret ACTION; reload: ld nr
//   ret DEFAULT
import { ConfigError } from '../errors';
import type { SpecSeccomp } from './spec-types';
import { SYSCALLS_X86_64 } from './syscalls-x86_64';

const RET = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0x00000000, TRAP: 0x00030000, ERRNO: 0x00050000,
  TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000,
} as const;
const EPERM = 1;
const ENOSYS = 38;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
/** Kernel limit on a filter's length (BPF_MAXINSNS). */
export const MAX_INSNS = 4096;

const OP = {
  LD_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  AND_K: 0x54,  // BPF_ALU | BPF_AND | BPF_K
  JEQ: 0x15, JGT: 0x25, JGE: 0x35, // BPF_JMP | BPF_J* | BPF_K
  RET: 0x06,    // BPF_RET | BPF_K
} as const;
const OFF_NR = 0;
const OFF_ARCH = 4;
const offArg = (i: number) => 16 + 8 * i; // seccomp_data.args[i]; low word first (little-endian)

/** SECCOMP_FILTER_FLAG_* the agent passes to seccomp(2). NEW_LISTENER needs a listener
 * runx does not provide, so it is not accepted. */
const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_TSYNC_ESRCH: 16, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

export interface Insn { code: number; jt: number; jf: number; k: number }
type Target = number | string; // 0 = fall through; a string is a label
interface PendingInsn { code: number; jt: Target; jf: Target; k: number }

class Assembler {
  insns: PendingInsn[] = [];
  labels = new Map<string, number>();
  private n = 0;
  label(): string { return `L${this.n++}`; }
  place(label: string): void { this.labels.set(label, this.insns.length); }
  ld(off: number): void { this.insns.push({ code: OP.LD_ABS, jt: 0, jf: 0, k: off }); }
  and(k: number): void { this.insns.push({ code: OP.AND_K, jt: 0, jf: 0, k }); }
  jmp(code: number, k: number, jt: Target, jf: Target): void { this.insns.push({ code, jt, jf, k }); }
  ret(k: number): void { this.insns.push({ code: OP.RET, jt: 0, jf: 0, k }); }
  resolve(): Insn[] {
    return this.insns.map((ins, i) => {
      const off = (t: Target): number => {
        if (typeof t === 'number') return t;
        const at = this.labels.get(t);
        if (at === undefined) throw new Error(`seccomp: unplaced label ${t}`);
        const d = at - (i + 1);
        // Conditional jumps carry 8-bit offsets; rule bodies are a few instructions.
        if (d < 0 || d > 255) throw new Error(`seccomp: jump of ${d} out of range`);
        return d;
      };
      return { code: ins.code, jt: off(ins.jt), jf: off(ins.jf), k: ins.k >>> 0 };
    });
  }
}

function actionValue(action: string, errnoRet: number | undefined, field: string): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return RET.ALLOW;
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return RET.TRAP;
    case 'SCMP_ACT_LOG': return RET.LOG;
    case 'SCMP_ACT_ERRNO': return (RET.ERRNO | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE': return (RET.TRACE | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_NOTIFY':
      throw new ConfigError(field, `config.json: ${field}: SCMP_ACT_NOTIFY is not supported by runx (no seccomp listener crosses the VM boundary)`);
    default:
      throw new ConfigError(field, `config.json: ${field}: unknown seccomp action "${action}"`);
  }
}

const split = (v: number): [number, number] => {
  const b = BigInt.asUintN(64, BigInt(v));
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
};

/** One 64-bit argument condition; falls through when it holds, jumps to fail when not. */
function emitCondition(a: Assembler, arg: { index: number; value: number; valueTwo?: number; op: string }, fail: string, field: string): void {
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) {
    throw new ConfigError(field, `config.json: ${field}.index ${arg.index} is not 0..5`);
  }
  const lo = offArg(arg.index);
  const hi = lo + 4;
  const [vhi, vlo] = split(arg.value);
  const pass = a.label();
  switch (arg.op) {
    case 'SCMP_CMP_EQ':
      a.ld(hi); a.jmp(OP.JEQ, vhi, 0, fail); a.ld(lo); a.jmp(OP.JEQ, vlo, 0, fail);
      break;
    case 'SCMP_CMP_NE':
      a.ld(hi); a.jmp(OP.JEQ, vhi, 0, pass); a.ld(lo); a.jmp(OP.JEQ, vlo, fail, 0);
      break;
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
      a.ld(hi); a.jmp(OP.JGT, vhi, pass, 0); a.jmp(OP.JEQ, vhi, 0, fail);
      a.ld(lo); a.jmp(arg.op === 'SCMP_CMP_GT' ? OP.JGT : OP.JGE, vlo, 0, fail);
      break;
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE':
      a.ld(hi); a.jmp(OP.JGE, vhi, 0, pass); a.jmp(OP.JEQ, vhi, 0, fail);
      a.ld(lo); a.jmp(arg.op === 'SCMP_CMP_LT' ? OP.JGE : OP.JGT, vlo, fail, 0);
      break;
    case 'SCMP_CMP_MASKED_EQ': {
      const [mhi, mlo] = [vhi, vlo];
      const [whi, wlo] = split(arg.valueTwo ?? 0);
      a.ld(hi); a.and(mhi); a.jmp(OP.JEQ, whi, 0, fail);
      a.ld(lo); a.and(mlo); a.jmp(OP.JEQ, wlo, 0, fail);
      break;
    }
    default:
      throw new ConfigError(field, `config.json: ${field}.op: unknown seccomp operator "${arg.op}"`);
  }
  a.place(pass);
}

export interface CompiledSeccomp {
  program: Insn[];
  flags: number;
  /** Syscall names the table does not know; skipped, as runc skips them. */
  unknown: string[];
}

export function compileSeccomp(s: SpecSeccomp): CompiledSeccomp {
  const def = actionValue(s.defaultAction, s.defaultErrnoRet, 'linux.seccomp.defaultAction');
  let flags = 0;
  for (const [i, f] of (s.flags ?? []).entries()) {
    const v = FLAGS[f];
    if (v === undefined) throw new ConfigError(`linux.seccomp.flags[${i}]`, `config.json: linux.seccomp.flags[${i}]: unsupported seccomp flag "${f}"`);
    flags |= v;
  }
  if (s.listenerPath) throw new ConfigError('linux.seccomp.listenerPath', 'config.json: linux.seccomp.listenerPath is not supported by runx');

  const a = new Assembler();
  const deny = (RET.ERRNO | ENOSYS) >>> 0;
  a.ld(OFF_ARCH); a.jmp(OP.JEQ, AUDIT_ARCH_X86_64, 1, 0); a.ret(deny);
  a.ld(OFF_NR); a.jmp(OP.JGE, X32_SYSCALL_BIT, 0, 1); a.ret(deny);
  const unknown: string[] = [];
  (s.syscalls ?? []).forEach((rule, r) => {
    const field = `linux.seccomp.syscalls[${r}]`;
    const action = actionValue(rule.action, rule.errnoRet, `${field}.action`);
    for (const name of rule.names ?? []) {
      const nr = SYSCALLS_X86_64.get(name);
      if (nr === undefined) { unknown.push(name); continue; }
      const args = rule.args ?? [];
      if (args.length === 0) {
        a.jmp(OP.JEQ, nr, 0, 1); a.ret(action);
        continue;
      }
      const next = a.label();
      const reload = a.label();
      a.jmp(OP.JEQ, nr, 0, next);
      args.forEach((arg, i) => emitCondition(a, arg, reload, `${field}.args[${i}]`));
      a.ret(action);
      a.place(reload); a.ld(OFF_NR);
      a.place(next);
    }
  });
  a.ret(def);
  const program = a.resolve();
  if (program.length > MAX_INSNS) {
    throw new ConfigError('linux.seccomp', `config.json: linux.seccomp: the filter needs ${program.length} BPF instructions, more than the kernel's ${MAX_INSNS}`);
  }
  return { program, flags, unknown };
}

/** struct sock_filter[] as the agent takes it: 8 bytes each, little-endian, hex. */
export function encodeProgram(program: readonly Insn[]): string {
  const buf = Buffer.alloc(program.length * 8);
  program.forEach((ins, i) => {
    buf.writeUInt16LE(ins.code, i * 8);
    buf.writeUInt8(ins.jt, i * 8 + 2);
    buf.writeUInt8(ins.jf, i * 8 + 3);
    buf.writeUInt32LE(ins.k, i * 8 + 4);
  });
  return buf.toString('hex');
}
