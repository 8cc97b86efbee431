#!/usr/bin/env node
// Builds a `docker save`-format archive (manifest.json, repositories, <id>/layer.tar,
// <id>/VERSION, <id>/json, <config-digest>.json) of the same busybox image that
// make-oci-image.mjs builds: Docker 20.10's `docker load` refuses an OCI layout
// ("open .../blobs/json: no such file or directory"). The OCI archive is made by
// make-oci-image.mjs and converted, so both formats carry the very same layer and
// config (same image ID). Usage: make-docker-archive.mjs OUT.tar [IMAGE-NAME]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';

const out = process.argv[2];
const name = process.argv[3] ?? 'docker.io/library/runx-busybox:latest';
if (!out) { console.error('usage: make-docker-archive.mjs OUT.tar [IMAGE-NAME]'); process.exit(2); }

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-docker-archive-'));
let files;
try {
  const oci = path.join(tmp, 'oci.tar');
  execFileSync(process.execPath, [path.join(here, 'make-oci-image.mjs'), oci, name], { stdio: 'inherit' });
  files = await untar(fs.readFileSync(oci));
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

function untar(buf) {
  return new Promise((resolve, reject) => {
    const x = tar.extract();
    const m = new Map();
    x.on('entry', (h, stream, next) => {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c)).on('end', () => { if (h.type === 'file') m.set(h.name, Buffer.concat(chunks)); next(); });
    });
    x.on('finish', () => resolve(m)).on('error', reject);
    x.end(buf);
  });
}

const blob = (digest) => {
  const b = files.get(`blobs/sha256/${digest.replace(/^sha256:/, '')}`);
  if (!b) throw new Error(`make-docker-archive: blob ${digest} missing from the OCI archive`);
  return b;
};
const index = JSON.parse(files.get('index.json'));
const manifest = JSON.parse(blob(index.manifests[0].digest));
const configDigest = manifest.config.digest.replace(/^sha256:/, '');
const config = blob(manifest.config.digest);

// docker's familiar reference: docker.io/library/x:t -> x:t
const familiar = name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
const colon = familiar.lastIndexOf(':');
const [repo, tag] = colon > familiar.lastIndexOf('/') ? [familiar.slice(0, colon), familiar.slice(colon + 1)] : [familiar, 'latest'];

const entries = [{ name: `${configDigest}.json`, body: config }];
const layerPaths = [];
let parent;
for (const l of manifest.layers) {
  if (!/\.tar$/.test(l.mediaType)) throw new Error(`make-docker-archive: only uncompressed layers, not ${l.mediaType}`);
  const id = l.digest.replace(/^sha256:/, ''); // legacy v1 id: any 64-hex string, unique per layer
  entries.push({ name: `${id}/`, type: 'directory' });
  entries.push({ name: `${id}/VERSION`, body: '1.0' });
  entries.push({ name: `${id}/json`, body: JSON.stringify({ id, ...(parent ? { parent } : {}), created: '1970-01-01T00:00:00Z', container_config: {} }) });
  entries.push({ name: `${id}/layer.tar`, body: blob(l.digest) });
  layerPaths.push(`${id}/layer.tar`);
  parent = id;
}
entries.push({ name: 'manifest.json', body: JSON.stringify([{ Config: `${configDigest}.json`, RepoTags: [`${repo}:${tag}`], Layers: layerPaths }]) });
entries.push({ name: 'repositories', body: JSON.stringify({ [repo]: { [tag]: parent } }) });

const p = tar.pack();
const chunks = [];
const done = new Promise((resolve, reject) => p.on('data', (c) => chunks.push(c)).on('end', resolve).on('error', reject));
for (const e of entries) {
  if (e.type === 'directory') p.entry({ name: e.name, type: 'directory', mode: 0o755 });
  else p.entry({ name: e.name, mode: 0o644 }, e.body);
}
p.finalize();
await done;
fs.writeFileSync(out, Buffer.concat(chunks));
