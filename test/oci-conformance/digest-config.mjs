#!/usr/bin/env node
// Turns a bundle's config.json into the checker's expectations (/oci-expect inside the
// rootfs), one per line, tab-separated: the C checker then needs no JSON parser.
// Usage: digest-config.mjs CONFIG.json > EXPECT
//
// What is expected, and why where it is not a plain copy of the config:
// - capabilities: what the kernel leaves after execve(2) of a file without file caps
//   (capabilities(7)); a runtime applies the config's sets, execve then transforms
//   them. ambient = A ∩ P ∩ I (PR_CAP_AMBIENT_RAISE refuses anything else); for uid 0
//   permitted = bounding ∪ inheritable ∪ ambient and effective = permitted; for any
//   other uid permitted = effective = ambient. Bounding and inheritable are kept as set.
// - mounts: type (cgroup may show as cgroup2 on a unified host), the per-mount flags
//   among ro/rw/nosuid/nodev/noexec (fs data options are normalised by each fs, so they
//   are not compared), and the config's order. A propagation option (the last one, as
//   each replaces the type) is checked in mountinfo's optional fields; "slave" of a
//   mount whose master is not in this namespace shows no master, so slave is checked
//   as neither shared nor unbindable. linux.rootfsPropagation likewise on "/".
// - namespaces: each type the config lists without a path must differ from the
//   outside one (this process's, i.e. the host's initial namespaces); network is
//   checked by the host's interfaces not being visible (see below).
import fs from 'node:fs';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = [];
const line = (...f) => out.push(f.map(String).join('\t'));
const p = config.process ?? {};
const user = p.user ?? { uid: 0, gid: 0 };

// process
line('argc', p.args.length);
p.args.forEach((a, i) => line('arg', i, a));
for (const e of p.env ?? []) line('env', e);
line('cwd', p.cwd);
line('uid', user.uid);
line('gid', user.gid);
line('groups', [...(user.additionalGids ?? [])].sort((a, b) => a - b).join(','));
line('status', 'Umask', (user.umask ?? 0o022).toString(8).padStart(4, '0'));
line('status', 'NoNewPrivs', p.noNewPrivileges ? 1 : 0);

const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE'];
const mask = (names) => (names ?? []).reduce((m, n) => m | (1n << BigInt(CAPS.indexOf(n))), 0n);
const hex = (m) => m.toString(16).padStart(16, '0');
if (p.capabilities) {
  const c = p.capabilities;
  const [B, E, I, P, A] = [c.bounding, c.effective, c.inheritable, c.permitted, c.ambient].map(mask);
  void E;
  const amb = A & P & I;
  const prm = user.uid === 0 ? (B | I | amb) : amb;
  line('status', 'CapBnd', hex(B));
  line('status', 'CapInh', hex(I));
  line('status', 'CapPrm', hex(prm));
  line('status', 'CapEff', hex(prm));
  line('status', 'CapAmb', hex(amb));
}
const RLIMITS = ['RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS',
  'RLIMIT_NPROC', 'RLIMIT_NOFILE', 'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING',
  'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME'];
for (const r of p.rlimits ?? []) line('rlimit', RLIMITS.indexOf(r.type), r.soft, r.hard, r.type);
if (p.oomScoreAdj !== undefined) line('oom', p.oomScoreAdj);

// root, hostname, mounts
if (config.hostname !== undefined) line('hostname', config.hostname);
line('rootro', config.root?.readonly ? 1 : 0);
const FLAGS = new Set(['ro', 'rw', 'nosuid', 'nodev', 'noexec']);
const PROPAGATION = { shared: 'shared', rshared: 'shared', slave: 'slave', rslave: 'slave', private: 'private', rprivate: 'private', unbindable: 'unbindable', runbindable: 'unbindable' };
for (const m of config.mounts ?? []) {
  const bind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
  // cgroup: cgroup2 on a unified guest or host; runc on a cgroup v1 host mounts a tmpfs
  // holding one cgroup mount per controller.
  const type = bind ? '-' : m.type === 'cgroup' ? 'cgroup|cgroup2|tmpfs' : m.type ?? '-';
  let opts = (m.options ?? []).filter((o) => FLAGS.has(o));
  // runc on a cgroup v1 host leaves that tmpfs rw (only the controller mounts under it
  // are ro), so "ro" is not expected of a cgroup mount's top.
  if (m.type === 'cgroup') opts = opts.filter((o) => o !== 'ro');
  // "rw" then "ro": the last one wins.
  const last = opts.filter((o) => o === 'ro' || o === 'rw').pop();
  opts = opts.filter((o) => o !== 'ro' && o !== 'rw');
  if (last) opts.push(last);
  line('mount', m.destination, type, [...new Set(opts)].join(','));
  const prop = (m.options ?? []).map((o) => PROPAGATION[o]).filter(Boolean).pop();
  if (prop) line('prop', m.destination, prop);
}
if (config.linux?.rootfsPropagation) line('prop', '/', PROPAGATION[config.linux.rootfsPropagation]);

// linux
const linux = config.linux ?? {};
for (const m of linux.maskedPaths ?? []) line('masked', m);
for (const r of linux.readonlyPaths ?? []) line('readonly', r);
// Default devices and /dev symlinks (config-linux.md, "Default Devices" and runtime.md).
for (const [n, maj, min] of [['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]]) {
  line('chardev', `/dev/${n}`, maj, min);
}
for (const [n, t] of [['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'], ['stderr', '/proc/self/fd/2'], ['ptmx', 'pts/ptmx']]) {
  line('symlink', `/dev/${n}`, t);
}
for (const d of linux.devices ?? []) {
  line('device', d.path, d.type, d.major ?? 0, d.minor ?? 0, (d.fileMode ?? 0o666).toString(8), d.uid ?? 0, d.gid ?? 0);
}
for (const [k, v] of Object.entries(linux.sysctl ?? {})) line('sysctl', k, v);

const NS_PROC = { pid: 'pid', mount: 'mnt', ipc: 'ipc', uts: 'uts', cgroup: 'cgroup' };
for (const ns of linux.namespaces ?? []) {
  if (ns.path) continue;
  if (ns.type === 'network') {
    // An isolated network stack: none of this host's interfaces is visible (by MAC).
    // Not by namespace inode: a VM runtime's container has the guest kernel's stack,
    // whose inode numbers say nothing about the host's.
    const macs = fs.readdirSync('/sys/class/net').filter((n) => n !== 'lo')
      .map((n) => { try { return fs.readFileSync(`/sys/class/net/${n}/address`, 'utf8').trim(); } catch { return ''; } })
      .filter((m) => m && m !== '00:00:00:00:00:00');
    line('netiso', [...new Set(macs)].join(','));
    continue;
  }
  if (!NS_PROC[ns.type]) continue;
  const outside = /\[(\d+)\]/.exec(fs.readlinkSync(`/proc/self/ns/${NS_PROC[ns.type]}`))[1];
  line('ns', NS_PROC[ns.type], outside);
  if (ns.type === 'pid') line('pid1');
}

// A new user namespace: its uid_map and gid_map are the config's mappings, each line
// "CONTAINER HOST SIZE" (HOST as the runtime's kernel numbers them: the guest's for a
// VM runtime), no more and no fewer.
if ((linux.namespaces ?? []).some((ns) => ns.type === 'user' && !ns.path)) {
  for (const [file, key] of [['uid_map', 'uidMappings'], ['gid_map', 'gidMappings']]) {
    line('idmap', file, (linux[key] ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join(','));
  }
}

// seccomp: the filter is in force, and each rule the checker can exercise holds.
const sc = linux.seccomp;
if (sc) {
  line('status', 'Seccomp', 2);
  const CALLABLE = new Set(['getcwd', 'mkdir', 'rmdir']);
  const seen = new Set();
  for (const rule of sc.syscalls ?? []) {
    if (rule.action !== 'SCMP_ACT_ERRNO' || (rule.args ?? []).length) continue;
    for (const n of rule.names) {
      if (CALLABLE.has(n) && !seen.has(n)) { seen.add(n); line('seccomp_errno', n, rule.errnoRet ?? 1); }
    }
  }
  // A callable syscall no rule names gets the default action.
  const named = new Set((sc.syscalls ?? []).flatMap((r) => r.names));
  if (sc.defaultAction === 'SCMP_ACT_ERRNO') {
    for (const n of CALLABLE) if (!named.has(n)) line('seccomp_errno', n, sc.defaultErrnoRet ?? 1);
  }
}
process.stdout.write(`${out.join('\n')}\n`);
