#!/usr/bin/env bash
# Sets everything up, then runs a busybox container in its own VM with runx.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh
bundle="$(mktemp -d /tmp/runx-demo.XXXXXX)"
trap 'rm -rf "$bundle"' EXIT
node test/helpers/make-bundle.mjs "$bundle" -- sh -c 'echo "hello from $(hostname), a VM with kernel $(uname -r) and $(grep -c ^processor /proc/cpuinfo) vCPU"; cat /proc/cmdline'
printf '\n== runx run demo (bundle %s)\n' "$bundle"
time runx run --bundle "$bundle" "demo-$$"
