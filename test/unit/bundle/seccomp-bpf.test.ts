import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors';
import { compileSeccomp, encodeProgram, type Insn } from '../../../src/bundle/seccomp-bpf';
import { SYSCALLS_X86_64 } from '../../../src/bundle/syscalls-x86_64';

// A classic-BPF interpreter for the few opcodes the compiler emits, run on a synthetic
// struct seccomp_data, so the filters' decisions are checked without a kernel.
function run(prog: Insn[], nr: number, args: bigint[] = [], arch = 0xc000003e): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  args.forEach((a, i) => data.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  let acc = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc]!;
    switch (code) {
      case 0x20: acc = data.readUInt32LE(k); break;
      case 0x54: acc = (acc & k) >>> 0; break;
      case 0x15: pc += acc === k ? jt : jf; break;
      case 0x25: pc += acc > k ? jt : jf; break;
      case 0x35: pc += acc >= k ? jt : jf; break;
      case 0x06: return k;
      default: throw new Error(`opcode ${code}`);
    }
  }
  throw new Error('fell off the end');
}

const nr = (name: string) => SYSCALLS_X86_64.get(name)!;
const ALLOW = 0x7fff0000;
const errno = (e: number) => (0x00050000 | e) >>> 0;

describe('syscall table', () => {
  it('has the x86_64 numbers', () => {
    expect(nr('read')).toBe(0);
    expect(nr('getcwd')).toBe(79);
    expect(nr('mkdir')).toBe(83);
    expect(nr('clone3')).toBe(435);
  });
});

describe('seccomp compiler', () => {
  it('applies rules by name and the default action to the rest', () => {
    const { program, unknown } = compileSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['getcwd'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 },
        { names: ['mkdir', 'no_such_call'], action: 'SCMP_ACT_ERRNO' },
        { names: ['reboot'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['ptrace'], action: 'SCMP_ACT_TRAP' },
      ],
    });
    expect(unknown).toEqual(['no_such_call']);
    expect(run(program, nr('getcwd'))).toBe(errno(42));
    expect(run(program, nr('mkdir'))).toBe(errno(1));
    expect(run(program, nr('reboot'))).toBe(0x80000000);
    expect(run(program, nr('ptrace'))).toBe(0x00030000);
    expect(run(program, nr('read'))).toBe(ALLOW);
  });

  it('uses defaultErrnoRet, and refuses other ABIs and x32 numbers with ENOSYS', () => {
    const { program } = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 13, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] });
    expect(run(program, nr('read'))).toBe(ALLOW);
    expect(run(program, nr('write'))).toBe(errno(13));
    expect(run(program, nr('read'), [], 0x40000003)).toBe(errno(38));
    expect(run(program, 0x40000000 | nr('read'))).toBe(errno(38));
  });

  it('compares 64-bit arguments with every operator', () => {
    const big = 0x1_0000_0005n;
    const cases: Array<[string, number, number | undefined, Array<[bigint, boolean]>]> = [
      ['SCMP_CMP_EQ', Number(big), undefined, [[big, true], [5n, false], [big + 1n, false]]],
      ['SCMP_CMP_NE', Number(big), undefined, [[big, false], [5n, true], [0x2_0000_0005n, true]]],
      ['SCMP_CMP_GT', Number(big), undefined, [[big + 1n, true], [big, false], [0x2_0000_0000n, true], [0xffff_ffffn, false]]],
      ['SCMP_CMP_GE', Number(big), undefined, [[big, true], [big - 1n, false], [0x2_0000_0000n, true]]],
      ['SCMP_CMP_LT', Number(big), undefined, [[big - 1n, true], [big, false], [0xffff_ffffn, true], [0x2_0000_0000n, false]]],
      ['SCMP_CMP_LE', Number(big), undefined, [[big, true], [big + 1n, false], [3n, true]]],
      ['SCMP_CMP_MASKED_EQ', 0xff, 0x12, [[0x1234_5612n, true], [0x13n, false]]],
    ];
    for (const [op, value, valueTwo, probes] of cases) {
      const { program } = compileSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 7, args: [{ index: 2, value, valueTwo, op }] }],
      });
      for (const [arg, matches] of probes) {
        expect([op, arg, run(program, nr('personality'), [0n, 0n, arg])]).toEqual([op, arg, matches ? errno(7) : ALLOW]);
      }
      // A rule with args that does not match falls through to the next rule intact.
      expect(run(program, nr('read'), [0n, 0n, 0n])).toBe(ALLOW);
    }
  });

  it('ANDs the conditions of one rule and tries rules in order', () => {
    const { program } = compileSeccomp({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }, { index: 1, value: 1, op: 'SCMP_CMP_EQ' }] },
        { names: ['personality'], action: 'SCMP_ACT_LOG', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    expect(run(program, nr('personality'), [8n, 1n])).toBe(ALLOW);
    expect(run(program, nr('personality'), [8n, 2n])).toBe(errno(1));
    expect(run(program, nr('personality'), [0n])).toBe(0x7ffc0000);
  });

  it('refuses unknown actions, operators, flags and notify', () => {
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_NOPE' })).toThrow(ConfigError);
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' })).toThrow(/not supported/);
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] })).toThrow(/unsupported seccomp flag/);
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_WHAT' }] }] })).toThrow(/unknown seccomp operator/);
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }).flags).toBe(6);
  });

  it('fits a docker-sized allow list and encodes 8 bytes per instruction', () => {
    const { program } = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: [...SYSCALLS_X86_64.keys()], action: 'SCMP_ACT_ALLOW' }] });
    expect(program.length).toBeLessThan(1000);
    const hex = encodeProgram(program);
    expect(hex.length).toBe(program.length * 16);
    // ld [4] (arch): code 0x0020, jt 0, jf 0, k 4, little-endian
    expect(hex.slice(0, 16)).toBe('2000000004000000');
  });
});
