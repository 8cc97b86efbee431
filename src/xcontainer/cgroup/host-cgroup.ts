// The container's cgroup on the host, named and made as runc makes it. The keeper
// joins it before it starts QEMU, so the VM's every thread is in it: containerd's shim
// reads stats and OOM events from the cgroup of the pid `create` reported, which is the
// keeper's. Only limits that bound the VM as a whole are set here (CPU time, CPUs, and
// a task count); the container's own limits hold inside the guest.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, RunxError, messageOf } from '../../errors';
import type { SpecLinux, SpecLinuxResources } from '../../bundle/spec-types';
import { log } from '../../log';
import { sleep } from '../host/host';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export type CgroupLayout = 'v1' | 'v2';

/** A container's cgroup once made: kept in its record so `delete` can remove it. */
export interface HostCgroup {
  root: string;
  layout: CgroupLayout;
  /**
   * The container's directory in each hierarchy, keyed by the hierarchy's directory
   * under `root` ("memory", "cpu,cpuacct", "unified"), or "" on a pure v2 host.
   */
  dirs: Record<string, string>;
}

/** What placing a cgroup depends on, read once; tests give their own. */
export interface CgroupHost {
  root: string;
  /** /proc/self/cgroup: relative paths start from our own cgroup. */
  selfCgroup: string;
  /** /proc/self/mountinfo: a mount may show only part of its hierarchy (in a container, usually). */
  mountinfo: string;
}

interface Hierarchy {
  name: string;
  mount: string;
  /** The unified hierarchy: the only one on a v2 host, `unified` on a hybrid one. */
  unified: boolean;
  /** Controllers and names it carries ("cpu", "cpuacct", "systemd" for name=systemd). */
  carries: Set<string>;
}

export function readCgroupHost(root = CGROUP_ROOT): CgroupHost {
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  return { root, selfCgroup: read('/proc/self/cgroup'), mountinfo: read('/proc/self/mountinfo') };
}

/**
 * Resolves and creates the container's cgroup, when the config names one
 * (`linux.cgroupsPath`, which containerd and Docker always send). Without it runc makes
 * a default "<our cgroup>/<id>"; runx makes none, and the keeper and QEMU stay in the
 * caller's cgroup: ids are unique only within one --root, so a default named by the id
 * alone would be shared by same-named containers of different roots, and the VM
 * needs no host cgroup to be contained.
 */
export function makeHostCgroup(linux: SpecLinux | undefined, id: string, systemd: boolean, host: CgroupHost = readCgroupHost()): HostCgroup | undefined {
  if (!linux?.cgroupsPath) return undefined;
  const cg = resolveHostCgroup(linux.cgroupsPath, id, systemd, host);
  createHostCgroup(cg, linux.resources);
  return cg;
}

/** Where the container's cgroup goes in every hierarchy mounted at `host.root`. */
export function resolveHostCgroup(cgroupsPath: string | undefined, id: string, systemd: boolean, host: CgroupHost): HostCgroup {
  const { layout, hierarchies } = findHierarchies(host);
  const dirs: Record<string, string> = {};
  if (systemd) {
    // Where runc's systemd driver finds the unit's cgroup, made directly: systemd need
    // not run here, and runx does not ask it to make the unit.
    const inner = systemdCgroupPath(cgroupsPath, id);
    for (const h of hierarchies) dirs[h.name] = path.join(h.mount, inner);
    return { root: host.root, layout, dirs };
  }
  const inner = cleanPath(cgroupsPath || id);
  if (inner === '' || inner === '/') {
    throw new ConfigError('linux.cgroupsPath', `config.json: linux.cgroupsPath "${cgroupsPath}" names the root of the hierarchy, not a cgroup of the container's own`);
  }
  for (const h of hierarchies) {
    if (path.posix.isAbsolute(inner)) {
      dirs[h.name] = path.join(h.mount, inner);
      continue;
    }
    // As runc's fs drivers: below our own cgroup on v1; on v2 below its parent, which,
    // unlike our own (we are in it), can delegate controllers to a child.
    const own = ownCgroup(host, h);
    dirs[h.name] = path.join(h.mount, layout === 'v2' ? path.posix.dirname(own) : own, inner);
  }
  return { root: host.root, layout, dirs };
}

/**
 * runc's systemd form "slice:prefix:name" as a path below each hierarchy's root:
 * "system.slice:docker:abc" is /system.slice/docker-abc.scope, "a-b.slice" nests as
 * /a.slice/a-b.slice. A missing path is runc's default, ":runc:<id>".
 */
export function systemdCgroupPath(cgroupsPath: string | undefined, id: string): string {
  const form = cgroupsPath || `:runc:${id}`;
  const parts = form.split(':');
  if (parts.length !== 3) {
    throw new ConfigError('linux.cgroupsPath', `config.json: linux.cgroupsPath must be "slice:prefix:name" with --systemd-cgroup, not "${form}"`);
  }
  const [slice, prefix, name] = parts as [string, string, string];
  if (!name || name.includes('/') || prefix.includes('/')) {
    throw new ConfigError('linux.cgroupsPath', `config.json: linux.cgroupsPath "${form}": the prefix and name may not hold "/", and the name may not be empty`);
  }
  const unit = name.endsWith('.slice') ? name : prefix ? `${prefix}-${name}.scope` : `${name}.scope`;
  return path.posix.join(expandSlice(slice || 'system.slice', form), unit);
}

/** systemd's slice nesting: "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice, "-.slice" the root. */
function expandSlice(slice: string, form: string): string {
  const bad = () => new ConfigError('linux.cgroupsPath', `config.json: linux.cgroupsPath "${form}": "${slice}" is not a systemd slice name`);
  if (!slice.endsWith('.slice') || slice === '.slice' || slice.includes('/')) throw bad();
  const stem = slice.slice(0, -'.slice'.length);
  if (stem === '-') return '/';
  let dir = '';
  let prefix = '';
  for (const part of stem.split('-')) {
    if (!part) throw bad();
    dir += `/${prefix}${part}.slice`;
    prefix += `${part}-`;
  }
  return dir;
}

/**
 * runc's CleanPath: lexically clean, and a relative path cannot climb out of where it
 * starts ("../x" is "x"); an absolute one stays absolute.
 */
export function cleanPath(p: string): string {
  if (!p) return '';
  const abs = path.posix.resolve('/', p);
  return path.posix.isAbsolute(p) ? abs : path.posix.relative('/', abs);
}

function findHierarchies(host: CgroupHost): { layout: CgroupLayout; hierarchies: Hierarchy[] } {
  const { root } = host;
  if (fs.existsSync(path.join(root, 'cgroup.controllers'))) {
    return { layout: 'v2', hierarchies: [{ name: '', mount: root, unified: true, carries: new Set() }] };
  }
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (err) {
    throw new RunxError('EHOST', `cannot read cgroup root ${root}: ${reason(err)}`);
  }
  const mounts = cgroupMounts(host.mountinfo);
  const hierarchies: Hierarchy[] = [];
  // Symlinks ("cpu" -> "cpu,cpuacct") name a hierarchy already listed.
  for (const e of entries.filter((d) => d.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const mount = path.join(root, e.name);
    if (!fs.existsSync(path.join(mount, 'cgroup.procs'))) continue;
    const unified = fs.existsSync(path.join(mount, 'cgroup.controllers'));
    const opts = mounts.get(mount)?.superOptions ?? e.name.split(',');
    hierarchies.push({ name: e.name, mount, unified, carries: new Set(opts.map((o) => o.replace(/^name=/, ''))) });
  }
  if (!hierarchies.length) throw new RunxError('EHOST', `no cgroup hierarchy is mounted at ${root}`);
  return { layout: 'v1', hierarchies };
}

interface CgroupMount { root: string; superOptions: string[] }

/** The cgroup mounts in mountinfo, by mount point (a later mount over the same point wins). */
function cgroupMounts(mountinfo: string): Map<string, CgroupMount> {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const mounts = new Map<string, CgroupMount>();
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0 || f.length < sep + 4) continue;
    const fsType = f[sep + 1];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.set(unescape(f[4]!), { root: unescape(f[3]!), superOptions: f[sep + 3]!.split(',') });
  }
  return mounts;
}

/** Our own cgroup within hierarchy `h`, as a path from the root of what is mounted. */
function ownCgroup(host: CgroupHost, h: Hierarchy): string {
  let own: string | undefined;
  for (const line of host.selfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const carries = m[2] ? m[2].split(',').map((c) => c.replace(/^name=/, '')) : [];
    const same = h.unified ? carries.length === 0 : carries.length > 0 && carries.every((c) => h.carries.has(c));
    if (same) own = m[3];
  }
  const label = h.name || h.mount;
  if (own === undefined) throw new RunxError('EHOST', `cannot place a relative linux.cgroupsPath: /proc/self/cgroup names no cgroup of ours in the ${label} hierarchy`);
  const mountRoot = cgroupMounts(host.mountinfo).get(h.mount)?.root ?? '/';
  const rel = path.posix.relative(mountRoot, own);
  if (rel.startsWith('..')) {
    throw new RunxError('EHOST', `cannot place a relative linux.cgroupsPath: our cgroup ${own} in the ${label} hierarchy is outside the part mounted at ${h.mount} (${mountRoot})`);
  }
  return `/${rel}`;
}

/**
 * Makes the directories (and, on v2, delegates controllers down to them, as runc does),
 * and sets the limits that bound the VM. If anything fails, what this call made is
 * removed and the error says which directory and why, in one line.
 */
export function createHostCgroup(cg: HostCgroup, resources: SpecLinuxResources | undefined): void {
  const made: string[] = [];
  try {
    for (const [name, dir] of Object.entries(cg.dirs)) {
      const mount = name ? path.join(cg.root, name) : cg.root;
      const levels = levelsBelow(mount, dir);
      for (const level of levels) {
        try {
          fs.mkdirSync(level);
          made.push(level);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new RunxError('EHOST', `cannot create cgroup ${level}: ${reason(err)}`);
          if (!isDirectory(level)) throw new RunxError('EHOST', `cannot create cgroup ${level}: a file of that name is in the way`);
        }
      }
      if (cg.layout === 'v2') delegateControllers(cg.root, [mount, ...levels.slice(0, -1)]);
      else if (name.split(',').includes('cpuset')) {
        // A v1 cpuset cgroup starts with no CPUs and no memory nodes, and takes no task
        // until it has both: each level gets its parent's, as runc's cpuset does.
        for (const level of levels) inheritCpuset(level);
      }
    }
    applyLimits(cg, resources);
  } catch (err) {
    for (const dir of made.reverse()) {
      try {
        fs.rmdirSync(dir);
      } catch { /* a limit file we wrote in a test tree, or gone already */ }
    }
    throw err;
  }
}

/** `dir` and its ancestors below `mount`, from the top down. */
function levelsBelow(mount: string, dir: string): string[] {
  const rel = path.relative(mount, dir);
  if (!rel || rel.startsWith('..')) throw new RunxError('EHOST', `cgroup ${dir} is not below its hierarchy ${mount}`);
  const levels: string[] = [];
  let cur = mount;
  for (const part of rel.split(path.sep)) levels.push((cur = path.join(cur, part)));
  return levels;
}

/**
 * Enables every controller the root has in each of `dirs`' subtree_control, as runc
 * does; a controller that will not enable is only an error if a limit needs it.
 */
function delegateControllers(root: string, dirs: string[]): void {
  const available = readOr(path.join(root, 'cgroup.controllers'), '').split(/\s+/).filter(Boolean);
  if (!available.length) return;
  for (const dir of dirs) {
    const file = path.join(dir, 'cgroup.subtree_control');
    try {
      fs.writeFileSync(file, available.map((c) => `+${c}`).join(' '));
    } catch {
      for (const c of available) {
        try {
          fs.writeFileSync(file, `+${c}`);
        } catch { /* not delegable here (a parent holds processes, say) */ }
      }
    }
  }
}

function inheritCpuset(dir: string): void {
  const parent = path.dirname(dir);
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if (readOr(path.join(dir, file), '').trim()) continue;
    writeLimit(dir, file, readOr(path.join(parent, file), '').trim());
  }
}

/**
 * The fewest tasks the host cgroup may allow: the keeper's threads (node's main loop,
 * libuv and V8 workers) and QEMU's (main loop, RCU, vCPUs, and a block and 9p worker
 * pool that grows to 64 under load). QEMU aborts when it cannot make a thread, so a
 * container's small pids.limit, which the guest enforces on the container's own
 * processes, must not reach QEMU as is: it would end the VM instead.
 */
export const HOST_PIDS_FLOOR = 128;

/** pids.max for the VM's host cgroup: the container's limit, at least HOST_PIDS_FLOOR; -1 is none. */
export function hostPidsMax(limit: number | undefined): string | undefined {
  if (limit === undefined || limit === 0) return undefined;
  if (limit < 0) return 'max';
  return String(Math.max(limit, HOST_PIDS_FLOOR));
}

/**
 * The limits that bound the VM as a whole: CPU time (quota/period, shares or weight),
 * which CPUs and memory nodes it may use, and how many tasks (pids.max: the
 * container's processes are guest tasks, each host task of the VM is one of the
 * keeper's or QEMU's, so the container's limit caps those too, above a floor that
 * keeps QEMU alive). Deliberately not here:
 * - memory: the guest gets the container's limit as its RAM (plus room for its own
 *   kernel and agent), and QEMU needs more again for itself, its device emulation and
 *   (under TCG) its translation cache; the container's limit on QEMU would OOM-kill
 *   the whole VM long before the container reached its limit inside.
 */
function applyLimits(cg: HostCgroup, resources: SpecLinuxResources | undefined): void {
  const pidsMax = hostPidsMax(resources?.pids?.limit);
  if (pidsMax !== undefined) {
    for (const [name, dir] of Object.entries(cg.dirs)) {
      if (cg.layout === 'v2' || name.split(',').includes('pids')) writeLimit(dir, 'pids.max', pidsMax);
    }
  }
  const cpu = resources?.cpu;
  if (!cpu) return;
  for (const [name, dir] of Object.entries(cg.dirs)) {
    const carries = name ? name.split(',') : [];
    if (cg.layout === 'v2') {
      if (cpu.shares) writeLimit(dir, 'cpu.weight', String(sharesToWeight(cpu.shares)));
      if (cpu.quota || cpu.period) {
        const quota = cpu.quota && cpu.quota > 0 ? String(cpu.quota) : 'max';
        writeLimit(dir, 'cpu.max', cpu.period ? `${quota} ${cpu.period}` : quota);
      }
      if (cpu.cpus) writeLimit(dir, 'cpuset.cpus', cpu.cpus);
      if (cpu.mems) writeLimit(dir, 'cpuset.mems', cpu.mems);
      continue;
    }
    if (carries.includes('cpu')) {
      if (cpu.shares) writeLimit(dir, 'cpu.shares', String(cpu.shares));
      // The period first: a quota is checked against the period in force.
      if (cpu.period) writeLimit(dir, 'cpu.cfs_period_us', String(cpu.period));
      if (cpu.quota) writeLimit(dir, 'cpu.cfs_quota_us', String(cpu.quota));
    }
    if (carries.includes('cpuset')) {
      if (cpu.cpus) writeLimit(dir, 'cpuset.cpus', cpu.cpus);
      if (cpu.mems) writeLimit(dir, 'cpuset.mems', cpu.mems);
    }
  }
}

/** runc's mapping of v1 cpu.shares [2, 262144] onto v2 cpu.weight [1, 10000]. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((Math.min(Math.max(shares, 2), 262_144) - 2) * 9999) / 262_142);
}

function writeLimit(dir: string, file: string, value: string): void {
  try {
    fs.writeFileSync(path.join(dir, file), value);
  } catch (err) {
    throw new RunxError('EHOST', `cannot set ${file} to "${value}" in cgroup ${dir}: ${reason(err)}`);
  }
}

/** Moves process `pid` into the container's cgroup in every hierarchy. */
export function joinHostCgroup(cg: HostCgroup, pid: number): void {
  for (const dir of Object.values(cg.dirs)) {
    try {
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      throw new RunxError('EHOST', `cannot move process ${pid} into cgroup ${dir}: ${reason(err)}`);
    }
  }
}

/**
 * Removes the container's cgroup directories, once its VM is gone. Only the leaves,
 * as runc removes them: parents a cgroupsPath implied ("/default" of "/default/c1")
 * may be shared. A busy directory is retried for a moment, as the VM's last threads
 * may still be exiting; but one that holds only processes other than `ours` (the
 * container's keeper and QEMU, when known) is someone else's too (the same id under
 * another --root, as runc would share it) and is left to them at once.
 * Never throws: what is left is logged.
 */
export async function removeHostCgroup(cg: HostCgroup, ours?: number[], waitMs = 2000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (const dir of Object.values(cg.dirs)) {
    for (;;) {
      try {
        fs.rmdirSync(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        const procs = readOr(path.join(dir, 'cgroup.procs'), '').split(/\s+/).filter(Boolean).map(Number);
        const othersOnly = ours !== undefined && procs.length > 0 && !procs.some((p) => ours.includes(p));
        if (code === 'EBUSY' && !othersOnly && Date.now() < deadline) {
          await sleep(50);
          continue;
        }
        if (othersOnly) log().info(`cgroup ${dir} left to processes ${procs.join(' ')}, which share it`);
        else log().warn(`cannot remove cgroup ${dir}: ${reason(err)}${procs.length ? ` (processes ${procs.join(' ')} are in it)` : ''}`);
        break;
      }
    }
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** "ENOTDIR: not a directory", without Node's repetition of the call and path. */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code && e.message) return e.message.split(',')[0]!;
  return e.message ?? String(err);
}
