#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs every test: vitest unit tests, an
# end-to-end vitest, and the bats suites that drive the built runx binary against real
# QEMU VMs, containerd and dockerd. Every suite runs even if one fails; the script
# ends with one "N passed, N failed, N skipped" line over all and fails if any failed.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh || exit 1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0

vitest() { # title, vitest args...
  printf '\n== %s (vitest)\n' "$1"; shift
  npx vitest run --reporter=default --reporter=json --outputFile.json="$work/v.json" "$@" || status=1
  node -e 'const r=require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests, r.numPendingTests)' "$work/v.json" >>"$work/counts" || status=1
}
suite() { # title, bats dir
  printf '\n== %s (bats)\n' "$1"
  bats --timing "$2" | tee "$work/t.tap" || status=1
  local ok skip notok
  ok=$(grep -c '^ok ' "$work/t.tap"); skip=$(grep -c '^ok .* # skip' "$work/t.tap"); notok=$(grep -c '^not ok ' "$work/t.tap")
  echo "$((ok - skip)) $notok $skip" >>"$work/counts"
}

vitest "unit tests"
vitest "end-to-end: spot evacuation" --config vitest.e2e.config.ts
suite "CLI and VM tests" test/cli
suite "OCI runtime-spec conformance" test/oci-conformance
suite "containerd with runx as its runc" test/containerd
suite "Docker with runx as a runtime" test/docker
suite "Podman with runx as its runtime" test/podman
awk '{ p += $1; f += $2; s += $3 } END { printf "\n%d passed, %d failed, %d skipped\n", p, f, s }' "$work/counts"
exit "$status"
