// The checkpoint image's manifest (manifest.json): what the image is, what it needs of
// the restoring host, and the size and sha256 of every file. The manifest carries a
// digest of its own content, so a flipped byte anywhere in the image is caught.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import type { HostShare } from '../bundle/mount-plan';
import type { Accel, VmShape, VmSpec, VmState } from '../xcontainer';
import { type FileDigest, digestFile, digestText } from './file-digest';

export const MANIFEST_FILE = 'manifest.json';
export const FORMAT = 'runx-checkpoint';
export const FORMAT_VERSION = 1;
export const IMAGE_KERNEL = 'bzImage';
export const IMAGE_INITRAMFS = 'initramfs.cpio';
export const IMAGE_CONFIG = 'config.json';

export interface CheckpointManifest {
  format: typeof FORMAT;
  formatVersion: number;
  runxVersion: string;
  created: string;
  qemu: { build: string; machine: string; cpu: string; accel: Accel };
  shape: VmShape;
  agentProtocol: number;
  configDigest: string;
  container: { id: string; status: 'created' | 'running'; bundle: string; annotations?: Record<string, string> };
  shares: HostShare[];
  /** Set when the VM has a NIC: the MAC the guest knows it by. */
  network?: { mac: string };
  files: Record<string, FileDigest>;
  digest?: string;
}

/** The manifest's description of the VM, from its state model: what a restoring host must match and rebuild. */
export type ManifestVm = Pick<CheckpointManifest, 'qemu' | 'shape' | 'agentProtocol' | 'shares' | 'network'>;

export function manifestVmOf(spec: VmSpec, state: VmState): ManifestVm {
  const net = state.devices.net;
  return {
    qemu: { build: spec.qemuBuild, machine: spec.machine, cpu: spec.cpu, accel: spec.accel },
    shape: spec.shape,
    agentProtocol: state.agent.protocol,
    shares: state.devices.shares,
    network: net ? { mac: net.mac } : undefined,
  };
}

function selfDigest(m: CheckpointManifest): string {
  const { digest: _ignored, ...rest } = m;
  return digestText(JSON.stringify(rest));
}

export async function writeManifest(dir: string, m: Omit<CheckpointManifest, 'files' | 'digest'>, fileNames: string[]): Promise<CheckpointManifest> {
  const files: Record<string, FileDigest> = {};
  for (const name of fileNames) files[name] = await digestFile(path.join(dir, name));
  const manifest: CheckpointManifest = { ...m, files };
  manifest.digest = selfDigest(manifest);
  const tmp = path.join(dir, `${MANIFEST_FILE}.tmp`);
  fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  fs.renameSync(tmp, path.join(dir, MANIFEST_FILE));
  return manifest;
}

/** Reads and checks the manifest and every file it lists; throws a one-line error naming the problem. */
export async function verifyImage(dir: string): Promise<CheckpointManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new RunxError('ECONFIG', `checkpoint image ${dir}: no ${MANIFEST_FILE} (not a runx checkpoint)`);
  }
  let m: CheckpointManifest;
  try {
    m = JSON.parse(text) as CheckpointManifest;
  } catch {
    throw new RunxError('ECONFIG', `checkpoint image ${dir}: ${MANIFEST_FILE} is corrupt (not JSON)`);
  }
  if (m.format !== FORMAT) throw new RunxError('ECONFIG', `checkpoint image ${dir}: not a runx checkpoint (format "${String(m.format)}")`);
  if (m.formatVersion !== FORMAT_VERSION) throw new RunxError('ECONFIG', `checkpoint image ${dir}: format version ${m.formatVersion} is not supported (this runx reads ${FORMAT_VERSION})`);
  if (m.digest !== selfDigest(m)) throw new RunxError('ECONFIG', `checkpoint image ${dir}: ${MANIFEST_FILE} was altered (digest mismatch)`);
  for (const [name, want] of Object.entries(m.files ?? {})) {
    const p = path.join(dir, name);
    let size: number;
    try {
      size = fs.statSync(p).size;
    } catch {
      throw new RunxError('ECONFIG', `checkpoint image ${dir}: ${name} is missing`);
    }
    if (size !== want.size) throw new RunxError('ECONFIG', `checkpoint image ${dir}: ${name} is ${size} bytes, the manifest says ${want.size} (truncated or replaced)`);
    const got = await digestFile(p);
    if (got.sha256 !== want.sha256) throw new RunxError('ECONFIG', `checkpoint image ${dir}: ${name} does not match its checksum (corrupt)`);
  }
  return m;
}
