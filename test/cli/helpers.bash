# Shared setup for the CLI suites: each test gets its own --root and bundle, and
bats_require_minimum_version 1.5.0
# teardown force-deletes whatever the test left, so no keeper or QEMU outlives it.
REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
source "$REPO/test/runx-bin.bash"

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
}

teardown() {
  for id in $("$RUNX_BIN" --root "$ROOT" list -q 2>/dev/null); do
    "$RUNX_BIN" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$ROOT"
}

runx() {
  "$RUNX_BIN" --root "$ROOT" "$@"
}

# make_bundle [--set path=value]... -- ARGS...
make_bundle() {
  node "$REPO/test/helpers/make-bundle.mjs" "$BUNDLE" "$@"
}

state_field() { # id field
  runx state "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(typeof v==="object"?JSON.stringify(v):v)})' "$2"
}

record_field() { # id field (runx's own state.json, e.g. qemuPid)
  node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))[process.argv[2]] ?? "")' "$ROOT/$1/state.json" "$2"
}

wait_status() { # id status [tries of 0.1 s]
  local i
  for ((i = 0; i < ${3:-100}; i++)); do
    [ "$(state_field "$1" status 2>/dev/null)" = "$2" ] && return 0
    sleep 0.1
  done
  echo "status of $1 is $(state_field "$1" status 2>&1), wanted $2" >&2
  return 1
}

wait_gone() { # pid [tries of 0.1 s]
  local i
  for ((i = 0; i < ${2:-100}; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}
