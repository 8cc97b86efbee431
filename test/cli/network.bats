#!/usr/bin/env bats
# The container's network: the VM's NIC takes over the interface of the container's
# network namespace (a test netns joined by a veth to a "peer" netns), TCP works both
# ways, and a TCP connection survives checkpoint/restore within the peer's timeout.

load helpers

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
  CN="rxc$$"; PN="rxp$$"
  ip netns add "$CN"; ip netns add "$PN"
  ip link add "vc$$" netns "$CN" type veth peer name "vp$$" netns "$PN"
  ip -n "$CN" addr add 10.213.0.2/24 dev "vc$$"; ip -n "$CN" link set "vc$$" up
  ip -n "$PN" addr add 10.213.0.1/24 dev "vp$$"; ip -n "$PN" link set "vp$$" up; ip -n "$PN" link set lo up
  NS='[{"type":"pid"},{"type":"network","path":"/run/netns/'"$CN"'"},{"type":"mount"},{"type":"uts"}]'
}

teardown() {
  [ -n "${PEER_PID:-}" ] && kill "$PEER_PID" 2>/dev/null || true
  for id in $("$RUNX_BIN" --root "$ROOT" list -q 2>/dev/null); do "$RUNX_BIN" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true; done
  ip netns del "$CN" 2>/dev/null || true
  ip netns del "$PN" 2>/dev/null || true
  rm -rf "$ROOT"
}

start_peer() {
  ip netns exec "$PN" node "$REPO/test/helpers/tcp-peer.mjs" 10.213.0.1 9000 "$BATS_TEST_TMPDIR/peer.log" 60 &
  PEER_PID=$!
  for _ in $(seq 50); do [ -e "$BATS_TEST_TMPDIR/peer.log.ready" ] && return 0; sleep 0.1; done
  return 1
}

veth_mac() {
  ip -n "$CN" -j link show "vc$$" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].address))'
}

@test "the VM takes the namespace's address and MAC; TCP works both ways; delete removes the tap" {
  mac="$(veth_mac)"
  start_peer
  make_bundle --set linux.namespaces="$NS" -- sh -c 'ip addr show eth0 | grep -E "inet |ether" | tr -s " " | cut -d" " -f3; nc -l -p 7000 -e echo served-from-vm; nc 10.213.0.1 9000 -e sh -c "head -n 3 >&2"'
  runx --log "$BATS_TEST_TMPDIR/log" create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  # from the template with a NIC, whose MAC the agent replaced with the namespace's:
  # the peer below reaches the VM only if QEMU's NIC took the new MAC too
  grep -q "starting VM from its template for c1" "$BATS_TEST_TMPDIR/log"
  [ "$(ip -n "$CN" -br link | grep -c tap0_runx)" -eq 1 ]
  runx start c1
  for _ in $(seq 50); do
    run ip netns exec "$PN" busybox nc -w 2 10.213.0.2 7000
    [ "$output" = served-from-vm ] && break
    sleep 0.2
  done
  [ "$output" = served-from-vm ]
  wait_status c1 stopped
  run cat "$BATS_TEST_TMPDIR/out"
  [ "${lines[0]}" = "$mac" ]
  [ "${lines[1]}" = 10.213.0.2/24 ]
  [ "${lines[2]}" = 1 ]
  [ "${lines[4]}" = 3 ]
  runx delete c1
  [ "$(ip -n "$CN" -br link | grep -c tap0_runx)" -eq 0 ]
}

@test "booted cold, the VM has the namespace's MAC and address too" {
  mac="$(veth_mac)"
  start_peer
  make_bundle --set linux.namespaces="$NS" -- sh -c 'ip addr show eth0 | grep -E "inet |ether" | tr -s " " | cut -d" " -f3; nc 10.213.0.1 9000 -e sh -c "head -n 1 >&2"'
  run --separate-stderr runx --boot cold --log "$BATS_TEST_TMPDIR/log" run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  grep -q "booting VM for c1" "$BATS_TEST_TMPDIR/log"
  [ "${lines[0]}" = "$mac" ]
  [ "${lines[1]}" = 10.213.0.2/24 ]
  [ "$stderr" = 1 ]
}

@test "the host's own network namespace is refused" {
  make_bundle --set linux.namespaces='[{"type":"network","path":"/proc/self/ns/net"}]' -- true
  run runx create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"is the host's own network namespace"* ]]
  [ -z "$(ip -br link | grep tap0_runx || true)" ]
}

@test "an open TCP connection survives checkpoint and restore" {
  start_peer
  make_bundle --set linux.namespaces="$NS" -- sh -c 'nc 10.213.0.1 9000 -e sh -c "while read l; do echo got \$l; done"'
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  for _ in $(seq 100); do [ "$(cat "$BATS_TEST_TMPDIR/peer.log" 2>/dev/null | grep -c '^got')" -ge 5 ] && break; sleep 0.1; done
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  runx delete c1
  n="$(grep -c '^got' "$BATS_TEST_TMPDIR/peer.log")"
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" --detach c2 >/dev/null 2>&1 </dev/null
  for _ in $(seq 150); do [ "$(grep -c '^got' "$BATS_TEST_TMPDIR/peer.log")" -ge $((n + 10)) ] && break; sleep 0.1; done
  [ "$(grep -c '^got' "$BATS_TEST_TMPDIR/peer.log")" -ge $((n + 10)) ]
  run ! grep -q CLOSED "$BATS_TEST_TMPDIR/peer.log"
  # every line the peer sent came back once, in order: the same connection throughout
  grep '^got' "$BATS_TEST_TMPDIR/peer.log" | awk '$2 != NR { print "line " NR ": " $0; bad = 1; exit } END { exit bad }'
}

@test "an open TCP connection survives a checkpoint that writes a read-write bind back: the VM running for the copy is cut off from the network" {
  # 40 files: a write-back of ~0.3 s under TCG, in which the peer sends ~3 lines. Had the
  # saved VM's kernel taken (and acked) them, the restored one would never get them.
  mkdir -p "$BATS_TEST_TMPDIR/vol"
  for i in $(seq 40); do echo "$i" >"$BATS_TEST_TMPDIR/vol/f$i"; done
  start_peer
  make_bundle --set linux.namespaces="$NS" \
    --set mounts="[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$BATS_TEST_TMPDIR/vol\",\"options\":[\"rbind\"]}]" \
    -- sh -c 'echo in >/data/mine; nc 10.213.0.1 9000 -e sh -c "while read l; do echo got \$l; done"'
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  for _ in $(seq 100); do [ "$(cat "$BATS_TEST_TMPDIR/peer.log" 2>/dev/null | grep -c '^got')" -ge 5 ] && break; sleep 0.1; done
  runx --log "$BATS_TEST_TMPDIR/ckpt.log" checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  grep -q 'written back in' "$BATS_TEST_TMPDIR/ckpt.log"
  [ "$(cat "$BATS_TEST_TMPDIR/vol/mine")" = in ]
  runx delete c1
  n="$(grep -c '^got' "$BATS_TEST_TMPDIR/peer.log")"
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" --detach c2 >/dev/null 2>&1 </dev/null
  for _ in $(seq 150); do [ "$(grep -c '^got' "$BATS_TEST_TMPDIR/peer.log")" -ge $((n + 10)) ] && break; sleep 0.1; done
  [ "$(grep -c '^got' "$BATS_TEST_TMPDIR/peer.log")" -ge $((n + 10)) ]
  run ! grep -q CLOSED "$BATS_TEST_TMPDIR/peer.log"
  grep '^got' "$BATS_TEST_TMPDIR/peer.log" | awk '$2 != NR { print "line " NR ": " $0; bad = 1; exit } END { exit bad }'
}

@test "restored, the keeper and QEMU are in the namespace the config names, and the guest answers there" {
  make_bundle --set linux.namespaces="$NS" -- sh -c 'while true; do nc -l -p 7000 -e echo served-from-vm; done'
  runx create --bundle "$BUNDLE" c1 >/dev/null 2>&1 </dev/null
  runx start c1
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  runx delete c1
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" --detach --pid-file "$BATS_TEST_TMPDIR/pid" c2 >/dev/null 2>&1 </dev/null
  pid="$(state_field c2 pid)"
  [ "$pid" = "$(cat "$BATS_TEST_TMPDIR/pid")" ]
  # the pid runx reports is in the container's namespace, not the host's
  [ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$(stat -L -c %i "/run/netns/$CN")" ]
  [ "$(stat -L -c %i "/proc/$(record_field c2 qemuPid)/ns/net")" = "$(stat -L -c %i "/run/netns/$CN")" ]
  [ "$(ip -n "$CN" -br link | grep -c tap0_runx)" -eq 1 ]
  for _ in $(seq 50); do
    run ip netns exec "$PN" busybox nc -w 2 10.213.0.2 7000
    [ "$output" = served-from-vm ] && break
    sleep 0.2
  done
  [ "$output" = served-from-vm ]
  runx delete --force c2
  [ "$(ip -n "$CN" -br link | grep -c tap0_runx)" -eq 0 ]
}

# A DNS query for "big.test" (type TXT), as the bytes printf(1) takes.
DNS_QUERY='\022\064\001\000\000\001\000\000\000\000\000\000\003big\004test\000\000\020\000\001'
DNS_QUERY_TCP='\000\032'"$DNS_QUERY"

# The guest's busybox nc has no UDP: the keeper's UDP-then-TCP path is tested against
# a resolver on loopback in test/unit/xcontainer/devices/dns-relay-tcp.test.ts.
@test "DNS relay: the guest answers TCP queries on its loopback nameserver; a truncated answer is fetched over TCP" {
  ip -n "$CN" link set lo up
  ip -n "$CN" addr add 127.0.0.53/8 dev lo 2>/dev/null || true
  ip netns exec "$CN" node "$REPO/test/helpers/dns-resolver.mjs" 127.0.0.53 1800 "$BATS_TEST_TMPDIR/dns.log" 60 &
  PEER_PID=$!
  for _ in $(seq 50); do [ -e "$BATS_TEST_TMPDIR/dns.log.ready" ] && break; sleep 0.1; done
  [ -e "$BATS_TEST_TMPDIR/dns.log.ready" ]
  printf 'nameserver 127.0.0.53\n' >"$BATS_TEST_TMPDIR/resolv.conf"
  make_bundle --set linux.namespaces="$NS" -- sh -c "(printf '$DNS_QUERY_TCP'; sleep 3) | nc 127.0.0.53 53 | wc -c"
  node -e 'const f=process.argv[1]; const c=JSON.parse(require("fs").readFileSync(f,"utf8")); c.mounts.push({destination:"/etc/resolv.conf",type:"bind",source:process.argv[2],options:["rbind","ro"]}); require("fs").writeFileSync(f, JSON.stringify(c))' "$BUNDLE/config.json" "$BATS_TEST_TMPDIR/resolv.conf"
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  echo "status $status out: $output err: $stderr; resolver saw: $(cat "$BATS_TEST_TMPDIR/dns.log" 2>/dev/null)" >&2
  [ "$status" -eq 0 ]
  # over TCP in the guest: the length prefix and the whole answer, which the keeper
  # asked over UDP (truncated) and then over TCP
  [ "$(echo ${lines[0]})" = 1802 ]
  grep -q '^udp 26$' "$BATS_TEST_TMPDIR/dns.log"
  grep -q '^tcp 26$' "$BATS_TEST_TMPDIR/dns.log"
}
