#!/usr/bin/env node
// Builds an OCI image archive (oci-layout, index.json, blobs) of a busybox rootfs from
// Debian's busybox-static, with no registry: what `ctr image import` and
// `docker load` read. Usage: make-oci-image.mjs OUT.tar [IMAGE-NAME]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import tar from 'tar-stream';

const out = process.argv[2];
const name = process.argv[3] ?? 'docker.io/library/runx-busybox:latest';
if (!out) { console.error('usage: make-oci-image.mjs OUT.tar [IMAGE-NAME]'); process.exit(2); }

function pack(entries) {
  return new Promise((resolve, reject) => {
    const p = tar.pack();
    const chunks = [];
    p.on('data', (c) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    for (const e of entries) p.entry(e.header, e.body);
    p.finalize();
  });
}

const dir = (n, mode = 0o755) => ({ header: { name: n, type: 'directory', mode } });
const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
const layer = await pack([
  ...['bin/', 'etc/', 'proc/', 'sys/', 'dev/', 'root/', 'home/'].map((d) => dir(d)),
  dir('tmp/', 0o1777),
  { header: { name: 'bin/busybox', mode: 0o755 }, body: fs.readFileSync('/bin/busybox') },
  ...applets.map((a) => ({ header: { name: `bin/${a}`, type: 'symlink', linkname: 'busybox' } })),
  { header: { name: 'etc/passwd', mode: 0o644 }, body: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' },
  { header: { name: 'etc/group', mode: 0o644 }, body: 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' },
]);

const sha = (b) => createHash('sha256').update(b).digest('hex');
const blob = (mediaType, b) => ({ mediaType, digest: `sha256:${sha(b)}`, size: b.length, body: b });
const layerBlob = blob('application/vnd.oci.image.layer.v1.tar', layer);
const config = blob('application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify({
  architecture: 'amd64', os: 'linux',
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], WorkingDir: '/' },
  rootfs: { type: 'layers', diff_ids: [layerBlob.digest] },
  history: [{ created_by: 'runx test/helpers/make-oci-image.mjs (busybox-static)' }],
})));
const manifest = blob('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
  layers: [{ mediaType: layerBlob.mediaType, digest: layerBlob.digest, size: layerBlob.size }],
})));
const index = {
  schemaVersion: 2,
  manifests: [{ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size,
    annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() } }],
};
const archive = await pack([
  { header: { name: 'oci-layout' }, body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
  { header: { name: 'index.json' }, body: JSON.stringify(index) },
  dir('blobs/'), dir('blobs/sha256/'),
  ...[layerBlob, config, manifest].map((b) => ({ header: { name: `blobs/sha256/${b.digest.slice(7)}` }, body: b.body })),
]);
fs.writeFileSync(out, archive);
