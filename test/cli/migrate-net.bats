#!/usr/bin/env bats
# Live migration with the network identity: hosts A and B and a client C are network
# namespaces on one bridge (in a namespace of its own), each host with its own runx
# --root and `runx serve`, and the container's namespace on each host has the same
# address, its veth on the same bridge. A container running a counter server over
# TCP moves A -> B -> A while the client keeps one connection: every reply arrives,
# in order, with the count intact. Only test-made namespaces and 10.232.0.0/24.

load helpers
load netns-hosts

NET=10.232.0

setup() {
  hosts_up rxm
}

teardown() {
  hosts_down "${P}X"
}

# serve NS ROOT ADDR: runx serve inside a host namespace
serve() {
  local log="$BATS_TEST_TMPDIR/serve-$1.err"
  ip netns exec "$1" "$RUNX_BIN" --root "$2" serve --listen "$3" --token-file "$BATS_TEST_TMPDIR/token" 2>"$log" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q listening "$log" 2>/dev/null && return 0; sleep 0.1; done
  cat "$log" >&2
  return 1
}

@test "a TCP server keeps its one connection and its state across A -> B -> A" {
  serve "$HA" "$RA" "$NET.1:7701"
  serve "$HB" "$RB" "$NET.2:7702"
  make_bundle --set linux.namespaces='[{"type":"pid"},{"type":"network","path":"/run/netns/'"$CA"'"},{"type":"mount"},{"type":"uts"}]' -- sh -c "$SERVER"
  ip netns exec "$HA" "$RUNX_BIN" --root "$RA" create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  mac="$(ip -n "$CA" -j link show eth0 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].address))')"

  ip netns exec "$CL" node "$REPO/test/helpers/tcp-client.mjs" "$NET.100" 7000 "$BATS_TEST_TMPDIR/client.log" 150 &
  PIDS+=($!)
  wait_replies 10

  # A namespace that cannot take the NIC is refused before anything moves.
  run ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" --netns "/run/netns/${P}none" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"${P}none does not exist"* ]]
  # so is one whose interface lacks the container's address
  plug "${P}X" "$NET.101"
  run ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" --netns "/run/netns/${P}X" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"has $NET.101/24, the container has $NET.100/24"* ]]
  [ "$(has_tap "${P}X")" -eq 0 ]
  ip netns del "${P}X"
  [ "$(state_field c1 status)" = running ]
  [ -z "$("$RUNX_BIN" --root "$RB" list -q)" ]

  # B's namespace for the container, made now as a CNI ADD there would be: a second
  # live stack with the container's address must not be on the bridge while the
  # client resolves it.
  plug "$CB" "$NET.100"
  run ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --dry-run --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" --netns "/run/netns/$CB" c1
  [ "$status" -eq 0 ]
  [ "$(has_tap "$CB")" -eq 0 ]
  [ -z "$("$RUNX_BIN" --root "$RB" list -q)" ]
  n="$(replies)"
  run ip netns exec "$HA" "$RUNX_BIN" --root "$RA" migrate --to "$NET.2:7702" --token-file "$BATS_TEST_TMPDIR/token" --netns "/run/netns/$CB" --format json c1
  echo "$output"
  [ "$status" -eq 0 ]
  node -e 'const r=JSON.parse(process.argv[1]); if (r.returned || r.netnsPath !== process.argv[2]) process.exit(1)' "$output" "/run/netns/$CB"
  wait_replies $((n + 20))
  [ "$("$RUNX_BIN" --root "$RB" state c1 | grep -c '"status": "running"')" -eq 1 ]
  [[ "$(state_field c1 annotations)" == *"\"io.runx.migrated-to\":\"$NET.2:7702\""* ]]
  qb="$(node -e 'console.log(require(process.argv[1]).qemuPid)' "$RB/c1/state.json")"
  in_netns_of "$qb" "$CB"
  # and so is B's keeper, the pid B's runx reports: where create would have put it
  in_netns_of "$(node -e 'console.log(require(process.argv[1]).keeperPid)' "$RB/c1/state.json")" "$CB"
  [ "$(has_tap "$CB")" -eq 1 ]
  # A's stand-in keeps its tap, unread: A's namespace stays deaf for the moved address
  [ "$(has_tap "$CA")" -eq 1 ]
  # the guest kept its MAC: B's QEMU has A's namespace's MAC
  tr '\0' ' ' <"/proc/$qb/cmdline" | grep -q "mac=$mac"

  # Back to A, where the stand-in holds the id: it takes the container back, and the
  # NIC goes into the namespace the container had at A (no --netns).
  n="$(replies)"
  run ip netns exec "$HB" "$RUNX_BIN" --root "$RB" migrate --to "$NET.1:7701" --token-file "$BATS_TEST_TMPDIR/token" c1
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"back with its stand-in there"* ]]
  wait_replies $((n + 20))
  [ -z "$("$RUNX_BIN" --root "$RB" list -q)" ]
  [ ! -e "$RB/c1" ]
  [ "$(has_tap "$CB")" -eq 0 ]
  [ "$(state_field c1 status)" = running ]
  [[ "$(state_field c1 annotations)" != *migrated-to* ]]
  # the same keeper (the pid a supervisor holds) runs the VM again, in A's namespace
  [ "$(record_field c1 keeperPid)" = "$(cat "$BATS_TEST_TMPDIR/pid")" ]
  in_netns_of "$(record_field c1 qemuPid)" "$CA"

  n="$(replies)"
  wait_replies $((n + 10))
  # the one connection never broke (the client would have said CLOSED)
  [ "$(grep -c CLOSED "$BATS_TEST_TMPDIR/client.log")" -eq 0 ]
  runx kill c1 KILL
  wait_status c1 stopped
  [ "$(record_field c1 exitStatus)" = 137 ]
  # every reply once, in order, counted by the one server process: "k k" for the k-th
  grep -v CLOSED "$BATS_TEST_TMPDIR/client.log" | awk '$1 != NR || $2 != NR { print "reply " NR ": " $0; bad = 1; exit } END { exit bad }'
  # and the container's own output, relayed through the stand-in while away, has no gap
  awk '$1 != NR { print "output line " NR ": " $0; bad = 1; exit } END { if (NR < 40) { print "only " NR " lines"; bad = 1 } exit bad }' "$BATS_TEST_TMPDIR/out"
}
