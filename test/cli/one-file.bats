#!/usr/bin/env bats
# The one-file binary (dist/runx, scripts/build-sea.js) on its own: a copy of it outside
# the checkout, with a private cache, must find everything it reads at run time inside
# itself (protocol files, the native addon) and start its keeper and exec relay as
# itself. The other suites run against the same binary (test/runx-bin.bash).

load helpers

setup_file() {
  [ -x "$REPO/dist/runx" ] || skip "dist/runx was not built: this node cannot make single executables (npm run build printed why), so the suites run bin/runx"
}

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
  ONE="$(mktemp -d /tmp/runx-one-file.XXXXXX)"
  cp "$REPO/dist/runx" "$ONE/runx"
  export RUNX_CACHE_DIR="$ONE/cache"
  RUNX_BIN="$ONE/runx"
}

teardown() {
  for id in $("$RUNX_BIN" --root "$ROOT" list -q 2>/dev/null); do
    "$RUNX_BIN" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true
  done
  [ -z "${SERVE_PID:-}" ] || { kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null || true; }
  rm -rf "$ROOT" "$ONE" "${DEST:-}"
}

@test "one-file binary: a copy outside the checkout runs a container, as its own keeper" {
  run "$RUNX_BIN" --version
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "runx version "* ]]
  [ "${lines[1]}" = "commit: $(node -p 'require(process.argv[1]).commit' "$REPO/dist/build-info.json")" ]
  make_bundle -- sh -c 'echo hello from the guest; exec sleep 1000'
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  wait_status c1 running
  keeper="$(state_field c1 pid)"
  # the keeper is this very file, not node running a script of the checkout
  [ "$(readlink "/proc/$keeper/exe")" = "$RUNX_BIN" ]
  ! tr '\0' ' ' <"/proc/$keeper/cmdline" | grep -q "$REPO"
  for _ in $(seq 50); do grep -q 'hello from the guest' "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
  grep -q 'hello from the guest' "$BATS_TEST_TMPDIR/out"
}

@test "one-file binary: exec -t loads the embedded native addon; exec -d runs the relay as itself" {
  make_bundle -- sleep 1000
  runx run -d --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  wait_status c1 running
  sock="$BATS_TEST_TMPDIR/console.sock"
  node "$REPO/test/helpers/console-receiver.mjs" "$sock" --timeout 60 >"$BATS_TEST_TMPDIR/console" &
  rcv=$!
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  runx exec -t -d --console-socket "$sock" --pid-file "$BATS_TEST_TMPDIR/relay" c1 sh -c 'tty; sleep 3' </dev/null
  relay="$(cat "$BATS_TEST_TMPDIR/relay")"
  [ "$(readlink "/proc/$relay/exe")" = "$RUNX_BIN" ]
  wait "$rcv"
  [[ "$(tr -d '\r' <"$BATS_TEST_TMPDIR/console")" == *"/dev/pts/"* ]]
  # the addon was written once into the cache, named by its digest
  [ "$(find "$RUNX_CACHE_DIR/native" -name 'runx_native-*.node' | wc -l)" -eq 1 ]
}

@test "one-file binary: serve and migrate --dry-run speak the embedded migration protocol" {
  make_bundle -- sleep 1000
  runx run -d --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  wait_status c1 running
  DEST="$(mktemp -d /tmp/runx-bats-dest.XXXXXX)"
  echo "t0ken-$RANDOM$RANDOM" >"$BATS_TEST_TMPDIR/token"
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  "$RUNX_BIN" --root "$DEST" serve --listen "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" 2>"$BATS_TEST_TMPDIR/serve.err" &
  SERVE_PID=$!
  for _ in $(seq 100); do run runx migrate --dry-run --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1; [ "$status" -eq 0 ] && break; sleep 0.1; done
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"can take this container (dry run, nothing moved)"* ]]
  [ "$(state_field c1 status)" = running ]
}
