// The checkpoint image's manifest (manifest.json): what the image is, what it needs of
// the restoring host, and the size and sha256 of every file. The manifest carries a
// digest of its own content, so a flipped byte anywhere in the image is caught, and
// optionally a MAC (manifest-signature.ts), so a forged one is too. Reading an image
// back is image-reader.ts's, the only way restore opens image files.
import fs from 'node:fs';
import path from 'node:path';
import type { HostShare } from '../bundle/mount-plan';
import type { Accel, VmShape, VmSpec, VmState } from '../xcontainer';
import { type FileDigest, digestFile, digestText } from './file-digest';
import { type ManifestSignature, type SigningKey, signManifest } from './manifest-signature';
import { VM_STATE_FILE } from '../xcontainer/vm/vm-snapshot';
import { ROOT_DISK } from '../xcontainer/vm/qemu-argv';
import { CARRY_DISK } from '../xcontainer/devices/carry/config';

export const MANIFEST_FILE = 'manifest.json';
export const FORMAT = 'runx-checkpoint';
export const FORMAT_VERSION = 1;
export const IMAGE_KERNEL = 'bzImage';
export const IMAGE_INITRAMFS = 'initramfs.cpio';
export const IMAGE_CONFIG = 'config.json';
/** Every file of an image but the manifest: runx writes these and reads nothing else. */
export const IMAGE_FILES: readonly string[] = [VM_STATE_FILE, ROOT_DISK, IMAGE_KERNEL, IMAGE_INITRAMFS, IMAGE_CONFIG];
/**
 * Podman will not restore from a directory without CRIU's `inventory.img`: it only
 * stat()s it, as its test that a checkpoint is complete. runx writes one, a line of
 * text saying what the image is, listed and hashed like every file; restore never
 * reads it. Optional, so images of an earlier runx still restore.
 */
export const IMAGE_ENGINE_MARKER = 'inventory.img';
export const IMAGE_ENGINE_MARKER_TEXT = 'runx checkpoint image (not a CRIU image): see manifest.json\n';
/** Files an image has when its VM had them: the carry disk (devices/carry); the engines' marker. */
export const OPTIONAL_IMAGE_FILES: readonly string[] = [CARRY_DISK, IMAGE_ENGINE_MARKER];
/** Every name an image may hold besides its manifest. */
export const KNOWN_IMAGE_FILES: readonly string[] = [...IMAGE_FILES, ...OPTIONAL_IMAGE_FILES];

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
  /** Set by `checkpoint --sign-key`: a MAC of the same text the digest is of. */
  signature?: ManifestSignature;
}

/** What the digest and the signature are of: the manifest without either. */
export function manifestBody(m: CheckpointManifest): string {
  const { digest: _d, signature: _s, ...rest } = m;
  return JSON.stringify(rest);
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

export function selfDigest(m: CheckpointManifest): string {
  return digestText(manifestBody(m));
}

/** Writes `dir`/manifest.json (`dir` being a fresh directory of runx's own: image-writer.ts). */
export async function writeManifest(dir: string, m: Omit<CheckpointManifest, 'files' | 'digest' | 'signature'>, fileNames: readonly string[], signWith?: SigningKey): Promise<CheckpointManifest> {
  const files: Record<string, FileDigest> = {};
  for (const name of fileNames) files[name] = await digestFile(path.join(dir, name));
  const manifest: CheckpointManifest = { ...m, files };
  manifest.digest = selfDigest(manifest);
  if (signWith) manifest.signature = signManifest(manifestBody(manifest), signWith);
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
  return manifest;
}
