#!/usr/bin/env node
// Build step (after `npm run build`): runx as one executable file, dist/runx. It is a
// Node single-executable application made from the machine's own node: esbuild bundles
// dist/ and its npm dependencies into one script, Node turns that script, its code
// cache and the files runx reads at run time (ASSETS) into a blob, and postject
// injects the blob into a copy of node. The guest kernel and initramfs stay beside it
// in /usr/local/lib/runx. `pkg` and its fork download prebuilt Node binaries, which
// this build must not need.
//
// Usage: node scripts/build-sea.js (run by `npm run build`).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.join(__dirname, '..');
const out = path.join(repo, 'dist', 'sea');
/** Node's marker that a binary may carry a single-executable blob. */
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Files read through readPackageFile or the native addon, by their package-relative names. */
const ASSETS = [
  'package.json',
  'dist/build-info.json',
  'docs/protocol/agent.json',
  'docs/protocol/keeper.json',
  'docs/protocol/migration.proto',
  'docs/protocol/daemon.proto',
  'native/build/runx_native.node',
  'native/build/runx-share-stage',
];

/** Why this node cannot make a single executable, or undefined if it can. */
function cannot() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  // node:sea's isSea/getAsset and the blob's assets arrived in 20.12.
  if (major < 20 || (major === 20 && minor < 12)) return `node ${process.versions.node} is older than 20.12`;
  // Debian's own nodejs links libnode.so and has no fuse in its executable.
  if (!fs.readFileSync(process.execPath).includes(FUSE)) return `${process.execPath} was built without single-executable support`;
  return undefined;
}

/** Runs a build tool, showing what it printed only if it fails (postject warns about ELF notes it does not know). */
function quiet(file, args) {
  try {
    execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`${path.basename(args[0] ?? file)} failed: ${String(err.stderr || err.stdout || err.message).trim()}`);
  }
}

function build() {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const script = path.join(out, 'runx.js');
  require('esbuild').buildSync({
    entryPoints: [path.join(repo, 'dist', 'runx-entry.js')],
    outfile: script,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Smaller source and code cache: the CLI starts ~30 ms sooner and each keeper
    // holds ~3 MiB less than unminified; keepNames leaves stack traces readable.
    minify: true,
    keepNames: true,
    logLevel: 'error',
  });
  const assets = {};
  for (const name of ASSETS) {
    const file = path.join(repo, name);
    if (!fs.existsSync(file)) throw new Error(`${name} is missing: run "npm ci" and "npm run build" first`);
    assets[name] = file;
  }
  const blob = path.join(out, 'runx.blob');
  const config = path.join(out, 'sea-config.json');
  fs.writeFileSync(config, JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }));
  quiet(process.execPath, ['--experimental-sea-config', config]);

  const target = path.join(repo, 'dist', 'runx');
  const tmp = `${target}.tmp`;
  fs.copyFileSync(process.execPath, tmp);
  fs.chmodSync(tmp, 0o755);
  quiet(process.execPath, [require.resolve('postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE]);
  fs.renameSync(tmp, target);
}

const why = cannot();
if (why) {
  // Not an error: bin/runx runs the same code from dist/, and the tests fall back to it.
  fs.rmSync(path.join(repo, 'dist', 'runx'), { force: true });
  process.stderr.write(`runx: no one-file binary (${why}); bin/runx is the runx to run\n`);
  process.exit(0);
}
try {
  build();
} catch (err) {
  process.stderr.write(`runx: building the one-file binary failed: ${err.message}\n`);
  process.exit(1);
}
