#!/usr/bin/env bats
# Migrations a hostile or unlucky user breaks (issue 21): a relative --token-file, a
# stand-in that could not attach, a destination serving on 0.0.0.0, and the link cut
# mid-transfer. Hosts are network namespaces on one bridge (netns-hosts.bash), or
# loopback; only test-made namespaces and 10.233.0.0/24.

load helpers
load netns-hosts

NET=10.233.0
COUNTER='i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done'

setup() {
  hosts_vars rxp
}

teardown() {
  hosts_down
}

# serve NS ROOT ADDR [flags...]: runx serve inside a host namespace ("" = this one)
serve() {
  local ns="$1" root="$2" addr="$3"; shift 3
  local log="$BATS_TEST_TMPDIR/serve-${ns:-here}.err"
  ${ns:+ip netns exec "$ns"} "$RUNX_BIN" --root "$root" serve --listen "$addr" --token-file "$BATS_TEST_TMPDIR/token" "$@" 2>"$log" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q listening "$log" 2>/dev/null && return 0; sleep 0.1; done
  cat "$log" >&2
  return 1
}

# run_counter NS: c1 created in namespace NS ("" = this one) under $RA and started,
# printing a counter to $BATS_TEST_TMPDIR/out
run_counter() {
  make_bundle -- sh -c "$COUNTER"
  ${1:+ip netns exec "$1"} "$RUNX_BIN" --root "$RA" --log "$BATS_TEST_TMPDIR/keeper.log" create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  for _ in $(seq 100); do [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -ge 5 ] && break; sleep 0.1; done
}

# grows: c1's output grows within 10 s
grows() {
  local n
  n="$(wc -l <"$BATS_TEST_TMPDIR/out")"
  for _ in $(seq 100); do [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -gt "$n" ] && return 0; sleep 0.1; done
  echo "output stopped at $n lines" >&2
  return 1
}

consecutive() {
  awk 'NR != $0 { print "line " NR " is \"" $0 "\""; bad = 1; exit } END { if (NR < 5) { print "only " NR " lines"; bad = 1 } exit bad }' "$1"
}

# dest_qemu: B's VM for c1, once its keeper has started it (at most 30 s)
dest_qemu() {
  local q
  for _ in $(seq 300); do
    q="$(node -e 'try { console.log(require(process.argv[1]).qemuPid ?? "") } catch { console.log("") }' "$RB/c1/state.json" 2>/dev/null)"
    [ -n "$q" ] && echo "$q" && return 0
    sleep 0.1
  done
  return 1
}

# dest_clean SECONDS: until B holds nothing of c1
dest_clean() {
  for _ in $(seq $(($1 * 10))); do [ ! -e "$RB/c1" ] && return 0; sleep 0.1; done
  ls -la "$RB/c1" >&2
  return 1
}

@test "a relative --token-file works end to end: output after the switch-over reaches the source, state follows" {
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  serve "" "$RB" "127.0.0.1:$port"
  run_counter ""
  cd "$BATS_TEST_TMPDIR"
  run "$RUNX_BIN" --root "$RA" migrate --to "127.0.0.1:$port" --token-file token c1
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$("$RUNX_BIN" --root "$RB" state c1 | grep -c '"status": "running"')" -eq 1 ]
  [[ "$(state_field c1 annotations)" == *"\"io.runx.migrated-to\":\"127.0.0.1:$port\""* ]]
  # the stand-in attached: what the container writes now, at B, comes out here
  grows
  runx kill c1 KILL
  wait_status c1 stopped
  [ "$(record_field c1 exitStatus)" = 137 ]
  consecutive "$BATS_TEST_TMPDIR/out"
}

@test "a stand-in that could not reach the destination fails the migration before anything moves" {
  hosts_bridge
  serve "$HB" "$RB" "$NET.2:7702"
  # the container's keeper is in this namespace, which cannot reach B; the CLI is in A
  run_counter ""
  run ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" c1
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"refused before anything moved (the container runs on here): this host's keeper, the container's stand-in after the switch-over, cannot reach $NET.2:7702"* ]]
  [ "$(state_field c1 status)" = running ]
  [[ "$(state_field c1 annotations)" != *migrated-to* ]]
  dest_clean 20
  grows
  consecutive "$BATS_TEST_TMPDIR/out"
}

@test "serve --listen 0.0.0.0 advertises the address the source reached" {
  hosts_bridge
  serve "$HB" "$RB" "0.0.0.0:7702"
  run_counter "$HA"
  run ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" c1
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$("$RUNX_BIN" --root "$RB" state c1 | grep -c '"status": "running"')" -eq 1 ]
  grows
  runx kill c1 KILL
  wait_status c1 stopped
  consecutive "$BATS_TEST_TMPDIR/out"
}

@test "the link cut mid-transfer: migrate fails within its stall timeout, SIGTERM is prompt, B reaps its VM, a retry works" {
  hosts_bridge
  serve "$HB" "$RB" "$NET.2:7702" --source-timeout 5
  run_counter "$HA"

  # 1 MiB/s makes the memory phase last ~20 s: the link goes down in it
  ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" --bandwidth 1 --stall-timeout 5 c1 >"$BATS_TEST_TMPDIR/m1" 2>&1 &
  m=$!
  PIDS+=("$m")
  q="$(dest_qemu)"
  sleep 2
  ip -n "$L" link set "p$HB" down
  t0=$SECONDS
  st=0; timeout 60 tail --pid="$m" -f /dev/null || st=$?
  [ "$st" -eq 0 ]
  wait "$m" || st=$?
  cat "$BATS_TEST_TMPDIR/m1"
  echo "took $((SECONDS - t0)) s"; cat "$BATS_TEST_TMPDIR/keeper.log"
  [ "$st" -eq 1 ]
  [ $((SECONDS - t0)) -le 30 ]
  [ "$(wc -l <"$BATS_TEST_TMPDIR/m1")" -eq 1 ]
  grep -Eq "failed before switch-over \(the container runs on here\): (the memory transfer made no progress for 5 s|the destination has not answered for 5 s)" "$BATS_TEST_TMPDIR/m1"
  [ "$(state_field c1 status)" = running ]
  [[ "$(state_field c1 annotations)" != *migrated-to* ]]
  grows
  # B heard nothing more from the source: it reaps the VM (no "creating" orphan, NBD closed)
  dest_clean 30
  wait_gone "$q" 100

  # SIGTERM to a migrate whose link is down ends it within seconds
  ip -n "$L" link set "p$HB" up
  # the binary itself in the background (ip netns exec execs it), so the signal reaches runx
  ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" --bandwidth 1 c1 >"$BATS_TEST_TMPDIR/m2" 2>&1 &
  m=$!
  PIDS+=("$m")
  q="$(dest_qemu)"
  sleep 2
  ip -n "$L" link set "p$HB" down
  sleep 1
  kill -TERM "$m"
  t0=$SECONDS
  st=0; timeout 30 tail --pid="$m" -f /dev/null || st=$?
  [ "$st" -eq 0 ]
  wait "$m" || st=$?
  cat "$BATS_TEST_TMPDIR/m2"
  echo "took $((SECONDS - t0)) s"
  [ "$st" -eq 1 ]
  [ $((SECONDS - t0)) -le 15 ]
  grep -q "cancel" "$BATS_TEST_TMPDIR/m2"
  [ "$(state_field c1 status)" = running ]
  dest_clean 30
  wait_gone "$q" 100

  # the link back, a retry goes through
  ip -n "$L" link set "p$HB" up
  run timeout -s INT 300 ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" c1
  echo "$output"
  cat "$BATS_TEST_TMPDIR/serve-$HB.err"
  [ "$status" -eq 0 ]
  [ "$("$RUNX_BIN" --root "$RB" state c1 | grep -c '"status": "running"')" -eq 1 ]
  grows
  runx kill c1 KILL
  wait_status c1 stopped
  consecutive "$BATS_TEST_TMPDIR/out"
}
