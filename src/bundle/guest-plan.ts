// Turns a validated config into the `create` message's fields for the guest agent
// (docs/protocol/agent.md, "create fields"): process, user, rlimits, capabilities,
// terminal, the compiled seccomp filter, hostname, and the mount plan in the order the
// config gives, then namespaces, oomScoreAdj, sysctl, linux.devices and the limits of
// linux.resources the guest's cgroup applies; and a process
// for `exec` into the `exec` message's fields.
import type { FieldValue } from './guest-field';
import { log } from '../log';
import { CAPABILITY_SETS, capabilityMask } from './capabilities';
import { guestIdMaps, guestIdTranslator, guestNamespaces } from './namespaces';
import { guestResourceFields } from './guest-resources';
import { compileSeccomp, encodeProgram } from './seccomp-bpf';
import { BIND_SHARE_TAG, CARRY_DISK_SERIAL, rootfsPropagationFlags, type MountPlan } from './mount-plan';
import type { SpecConfig, SpecProcess } from './spec-types';

const DEFAULT_UMASK = 0o022;

export function guestCreateFields(config: SpecConfig, plan: MountPlan): Array<[string, FieldValue]> {
  const proc = config.process!;
  const fields = guestProcessFields(proc, config);
  fields.push(['rootro', config.root?.readonly === true]);
  if (config.hostname) fields.push(['hostname', config.hostname]);
  for (const tag of plan.shares) fields.push(['share', tag]);
  if (plan.binds.some((b) => b.carried)) {
    // Written back at the end: the carried binds the container may write.
    const back = plan.binds.flatMap((b, slot) => (b.carried && !b.readonly ? [slot] : []));
    fields.push(['carry.disk', CARRY_DISK_SERIAL], ['carry.share', BIND_SHARE_TAG], ['carry.back', back]);
  }
  // The mappings are checked before any id is translated through them.
  const { uidmap, gidmap } = guestIdMaps(config.linux);
  const ids = guestIdTranslator(config.linux);
  for (const m of plan.mounts) {
    const data = ids.data(m.data, `mounts (${m.dest})`);
    fields.push(['mount.dest', m.dest], ['mount.type', m.type], ['mount.source', m.source], ['mount.flags', m.flags], ['mount.data', data]);
    if (m.prop) fields.push(['mount.prop', m.prop]);
  }
  const rootProp = rootfsPropagationFlags(config.linux?.rootfsPropagation);
  if (rootProp) fields.push(['rootprop', rootProp]);
  for (const p of config.linux?.maskedPaths ?? []) fields.push(['masked', p]);
  for (const p of config.linux?.readonlyPaths ?? []) fields.push(['readonly', p]);
  for (const ns of guestNamespaces(config.linux?.namespaces ?? [])) fields.push(['ns', ns]);
  for (const m of uidmap) fields.push(['uidmap', m]);
  for (const m of gidmap) fields.push(['gidmap', m]);
  if (proc.oomScoreAdj !== undefined) fields.push(['oomscoreadj', String(proc.oomScoreAdj)]);
  for (const [k, v] of Object.entries(config.linux?.sysctl ?? {})) fields.push(['sysctl', `${k}=${v}`]);
  (config.linux?.devices ?? []).forEach((d, i) => {
    const uid = ids.uid(d.uid ?? 0, `linux.devices[${i}].uid`);
    const gid = ids.gid(d.gid ?? 0, `linux.devices[${i}].gid`);
    // Path last: it is the one part that may itself contain ':'.
    fields.push(['device', `${d.type}:${d.major ?? 0}:${d.minor ?? 0}:${d.fileMode ?? 0o666}:${uid}:${gid}:${d.path}`]);
  });
  fields.push(...guestResourceFields(config.linux?.resources, 'linux.resources'));
  return fields;
}

/**
 * The `exec` message's fields for `proc`, started in the container whose config is
 * `config`: the process's own fields, and the container's seccomp filter, which (as
 * with runc) applies to every process in the container.
 */
export function guestExecFields(exec: number, proc: SpecProcess, config: SpecConfig): Array<[string, FieldValue]> {
  return [['exec', exec], ...guestProcessFields(proc, config)];
}

/** The fields `create` and `exec` share (docs/protocol/agent.md, "exec fields"). */
function guestProcessFields(proc: SpecProcess, config: SpecConfig): Array<[string, FieldValue]> {
  const fields: Array<[string, FieldValue]> = [
    ['arg', proc.args!],
    ['env', proc.env ?? []],
    ['cwd', proc.cwd],
    ['uid', proc.user.uid],
    ['gid', proc.user.gid],
    ['group', proc.user.additionalGids ?? []],
    ['umask', proc.user.umask ?? DEFAULT_UMASK],
    ['nnp', proc.noNewPrivileges === true],
  ];
  for (const rl of proc.rlimits ?? []) fields.push(['rlimit', `${rl.type}:${rl.soft}:${rl.hard}`]);
  if (proc.capabilities) {
    for (const set of CAPABILITY_SETS) fields.push([`cap.${set}`, capabilityMask(proc.capabilities[set])]);
  }
  if (proc.terminal) {
    fields.push(['tty', true]);
    if (proc.consoleSize) fields.push(['rows', proc.consoleSize.height], ['cols', proc.consoleSize.width]);
  }
  if (config.linux?.seccomp) {
    const compiled = compileSeccomp(config.linux.seccomp);
    if (compiled.unknown.length) log().warn(`seccomp: syscalls unknown on x86_64 are skipped: ${compiled.unknown.join(' ')}`);
    fields.push(['seccomp', encodeProgram(compiled.program)], ['seccomp.flags', compiled.flags]);
  }
  return fields;
}
