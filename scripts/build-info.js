#!/usr/bin/env node
// Build step: records the commit being built in dist/build-info.json, which
// `runx --version` prints (the one-file binary carries a copy). Outside a git checkout
// the commit is "unknown".
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.join(__dirname, '..');
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch { /* not a git checkout, or no git */ }
fs.mkdirSync(path.join(repo, 'dist'), { recursive: true });
fs.writeFileSync(path.join(repo, 'dist', 'build-info.json'), `${JSON.stringify({ commit })}\n`);
