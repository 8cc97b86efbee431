# Shared setup for the OCI conformance suite. The runtime under test is $RUNTIME
# (default runx, this repo's build; any other name is looked up on PATH, e.g.
# RUNTIME=runc). Every call has the CLI shape the runtime-tools harness uses:
#   RUNTIME [--root R] create --bundle B [--pid-file F] ID; start ID; state ID;
#   kill ID SIG; delete [--force] ID
# with the container's stdout/stderr going to files the test reads. --root is a
# private directory per test unless RUNTIME_ROOT names one (then it is left in place).
bats_require_minimum_version 1.5.0
REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
RUNTIME="${RUNTIME:-runx}"
if [ "$RUNTIME" = runx ]; then source "$REPO/test/runx-bin.bash"; RT_BIN="$RUNX_BIN"; else RT_BIN="$(command -v "$RUNTIME")"; fi
CHECKER_CACHE="${RUNX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/runx}/oci-checker"

setup() {
  if [ -n "${RUNTIME_ROOT:-}" ]; then ROOT="$RUNTIME_ROOT"; else ROOT="$(mktemp -d /tmp/oci-bats-root.XXXXXX)"; fi
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  OUT="$BATS_TEST_TMPDIR/stdout"
  ERR="$BATS_TEST_TMPDIR/stderr"
  # Unique ids, so a shared RUNTIME_ROOT never sees two tests' containers collide.
  ID="oci$$-$BATS_TEST_NUMBER"
  mkdir -p "$BUNDLE"
  CREATED_IDS=()
}

teardown() {
  local id
  for id in "${CREATED_IDS[@]}"; do
    "$RT_BIN" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true
  done
  # a namespace holder a test started
  [ -z "${HOLDER_PID:-}" ] || kill "$HOLDER_PID" 2>/dev/null || true
  [ -n "${RUNTIME_ROOT:-}" ] || rm -rf "$ROOT"
}

rt() { "$RT_BIN" --root "$ROOT" "$@"; }

# make_bundle [--set path=JSON]... -- ARGS...   (busybox rootfs, runc's default config)
make_bundle() { node "$REPO/test/helpers/make-bundle.mjs" "$BUNDLE" "$@"; }

# set_config path=JSON...: edits $BUNDLE/config.json after make_bundle.
set_config() {
  node -e '
    const fs = require("fs"); const f = process.argv[1]; const c = JSON.parse(fs.readFileSync(f, "utf8"));
    for (const s of process.argv.slice(2)) {
      const eq = s.indexOf("="); const keys = s.slice(0, eq).split("."); let v = s.slice(eq + 1);
      try { v = JSON.parse(v); } catch {}
      let o = c; for (const k of keys.slice(0, -1)) o = (o[k] ??= {});
      if (v === null) delete o[keys.at(-1)]; else o[keys.at(-1)] = v;
    }
    fs.writeFileSync(f, JSON.stringify(c, null, 2));' "$BUNDLE/config.json" "$@"
}

# create ID [extra create flags...]: container stdio to $OUT/$ERR, stdin from /dev/null.
create() {
  local id="$1"; shift
  CREATED_IDS+=("$id")
  rt create --bundle "$BUNDLE" "$@" "$id" >>"$OUT" 2>>"$ERR" </dev/null
}

# try_create ID [flags...]: for `run try_create ...` where create should fail; the
# container's stdio goes to files, so a runtime that wrongly starts one cannot hang
# bats on an inherited pipe.
try_create() {
  local id="$1"; shift
  CREATED_IDS+=("$id")
  "$RT_BIN" --root "$ROOT" create --bundle "$BUNDLE" "$@" "$id" </dev/null >>"$OUT" 2>>"$ERR"
}

state_field() { # id field
  rt state "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(typeof v==="object"?JSON.stringify(v):v)})' "$2"
}

wait_status() { # id status [tries of 0.1 s]
  local i
  for ((i = 0; i < ${3:-150}; i++)); do
    [ "$(state_field "$1" status 2>/dev/null)" = "$2" ] && return 0
    sleep 0.1
  done
  echo "status of $1 is $(state_field "$1" status 2>&1), wanted $2" >&2
  return 1
}

wait_output() { # file pattern [tries of 0.1 s]
  local i
  for ((i = 0; i < ${3:-100}; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no \"$2\" in $1: $(cat "$1" 2>/dev/null)" >&2
  return 1
}

# The checker, built once into the cache (make rebuilds it when checker.c changes).
checker_bin() {
  make -s -C "$REPO/test/oci-conformance/checker" O="$CHECKER_CACHE" >&2 && echo "$CHECKER_CACHE/oci-checker"
}

# checker_bundle [--set path=JSON]... [-- EXTRA ARGS]: a bundle whose process is the
# checker (plus extra args, to check args) with /oci-expect digested from its config.
checker_bundle() {
  local sets=() extra=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --set) sets+=(--set "$2"); shift 2 ;;
      --) shift; extra=("$@"); break ;;
      *) echo "checker_bundle: unknown argument $1" >&2; return 2 ;;
    esac
  done
  make_bundle "${sets[@]}" -- /oci-checker "${extra[@]}"
  install -m 0755 "$(checker_bin)" "$BUNDLE/rootfs/oci-checker"
  digest
}

digest() { node "$REPO/test/oci-conformance/digest-config.mjs" "$BUNDLE/config.json" >"$BUNDLE/rootfs/oci-expect"; }

# run_checker ID: create, start, wait until stopped; $OUT holds the checker's TAP.
run_checker() {
  create "$1"
  rt start "$1"
  wait_status "$1" stopped
}

# checker_passed [min-tests]: the TAP in $OUT is complete, has no failure and at least
# min-tests results. On failure the TAP is printed (bats shows it).
checker_passed() {
  local plan
  plan="$(grep -E '^1\.\.[0-9]+$' "$OUT" | tail -1 | cut -c4-)"
  if [ -z "$plan" ] || grep -q '^not ok' "$OUT" || [ "$plan" -lt "${1:-1}" ] ||
     [ "$(grep -c '^ok ' "$OUT")" -ne "$plan" ]; then
    echo "checker output:" >&2; cat "$OUT" >&2; echo "stderr:" >&2; cat "$ERR" >&2
    return 1
  fi
}

# checker_has DESCRIPTION-PART: a passing result mentioning it exists (the field was checked).
checker_has() {
  grep -q -F -- "$1" <(grep '^ok ' "$OUT") || { echo "no passing check mentions: $1" >&2; cat "$OUT" >&2; return 1; }
}
