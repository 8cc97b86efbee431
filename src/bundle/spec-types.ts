// Types for the runtime-spec 1.x config.json and state, as far as runx reads them.
// Field names follow opencontainers/runtime-spec (config.md, config-linux.md, runtime.md).

export interface SpecUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface SpecRlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface SpecCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface SpecProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: SpecUser;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: SpecCapabilities;
  rlimits?: SpecRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface SpecRoot {
  path: string;
  readonly?: boolean;
}

export interface SpecMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface SpecHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface SpecHooks {
  prestart?: SpecHook[];
  createRuntime?: SpecHook[];
  createContainer?: SpecHook[];
  startContainer?: SpecHook[];
  poststart?: SpecHook[];
  poststop?: SpecHook[];
}

export interface SpecNamespace {
  type: string;
  path?: string;
}

export interface SpecDevice {
  type: string;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface SpecSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SpecSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SpecSeccompArg[];
}

export interface SpecSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SpecSeccompRule[];
}

export interface SpecLinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  [other: string]: unknown;
}

export interface SpecIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface SpecLinux {
  namespaces?: SpecNamespace[];
  resources?: SpecLinuxResources;
  cgroupsPath?: string;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  devices?: SpecDevice[];
  seccomp?: SpecSeccomp;
  rootfsPropagation?: string;
  uidMappings?: SpecIdMapping[];
  gidMappings?: SpecIdMapping[];
  [other: string]: unknown;
}

export interface SpecConfig {
  ociVersion: string;
  process?: SpecProcess;
  root?: SpecRoot;
  hostname?: string;
  mounts?: SpecMount[];
  hooks?: SpecHooks;
  annotations?: Record<string, string>;
  linux?: SpecLinux;
  [other: string]: unknown;
}

/** The OCI lifecycle states (runtime.md), plus runc's `paused`. */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** What `runx state` prints: the runtime-spec state, in runc's field order. */
export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}
