// Turns a validated config into the `create` message's fields for the guest agent
// (docs/protocol/agent.md, "create fields"): process, user, rlimits, hostname, and
// the mount plan in the order the config gives.
import type { FieldValue } from '../xcontainer/agent-messages';
import type { MountPlan } from './mount-plan';
import type { SpecConfig } from './spec-types';

const DEFAULT_UMASK = 0o022;

export function guestCreateFields(config: SpecConfig, plan: MountPlan): Array<[string, FieldValue]> {
  const proc = config.process!;
  const fields: Array<[string, FieldValue]> = [
    ['arg', proc.args!],
    ['env', proc.env ?? []],
    ['cwd', proc.cwd],
    ['uid', proc.user.uid],
    ['gid', proc.user.gid],
    ['group', proc.user.additionalGids ?? []],
    ['umask', proc.user.umask ?? DEFAULT_UMASK],
    ['nnp', proc.noNewPrivileges === true],
    ['rootro', config.root?.readonly === true],
  ];
  if (config.hostname) fields.push(['hostname', config.hostname]);
  for (const rl of proc.rlimits ?? []) fields.push(['rlimit', `${rl.type}:${rl.soft}:${rl.hard}`]);
  for (const share of plan.shares) fields.push(['share', share.tag]);
  for (const m of plan.mounts) {
    fields.push(['mount.dest', m.dest], ['mount.type', m.type], ['mount.source', m.source], ['mount.flags', m.flags], ['mount.data', m.data]);
  }
  for (const p of config.linux?.maskedPaths ?? []) fields.push(['masked', p]);
  for (const p of config.linux?.readonlyPaths ?? []) fields.push(['readonly', p]);
  return fields;
}
