#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs every test: vitest unit tests and
# the bats suites that drive the built runx binary against real QEMU VMs.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh
printf '\n== unit tests (vitest)\n'
npx vitest run
printf '\n== end-to-end: spot evacuation (vitest)\n'
npx vitest run --config vitest.e2e.config.ts
printf '\n== CLI and VM tests (bats)\n'
bats --timing test/cli
bats --timing test/oci-conformance
printf '\n== containerd with runx as its runc (bats)\n'
bats --timing test/containerd
printf '\n== Docker with runx as a runtime (bats)\n'
bats --timing test/docker
