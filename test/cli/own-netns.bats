#!/usr/bin/env bats
# A config that asks for a new network namespace without a path gets one, as with
# runc: the pid runx reports (the keeper) and its QEMU live in it, so what a prestart
# hook does to /proc/<pid>/ns/net (Docker's libnetwork-setkey, CNI) lands there and
# reaches the guest, the host's namespace is never touched, and the namespace ends
# with the container.

load helpers

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
  PN="rxo$$"
  ip netns add "$PN"
  ip -n "$PN" link set lo up
}

teardown() {
  [ -n "${PEER_PID:-}" ] && kill "$PEER_PID" 2>/dev/null || true
  for id in $("$RUNX_BIN" --root "$ROOT" list -q 2>/dev/null); do "$RUNX_BIN" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true; done
  ip netns del "$PN" 2>/dev/null || true
  rm -rf "$ROOT"
}

# Pids (of up to 2000 processes) whose network namespace is $1 (a net:[N] link).
pids_in_netns() {
  local p n=0
  for p in /proc/[0-9]*; do
    ((n++ < 2000)) || break
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
  done
  return 0
}

# A prestart hook that does what Docker's libnetwork-setkey has dockerd do: move a veth
# into /proc/<state.pid>/ns/net, name it eth0, give it IPv4 and IPv6 addresses, an MTU
# and default routes. It refuses (fails create) when that pid's namespace is the hook's own, the
# host's, which it must never change.
write_hook() {
  cat >"$BATS_TEST_TMPDIR/hook.sh" <<EOF
#!/bin/sh
set -e
pid=\$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
[ -n "\$pid" ]
if [ "\$(readlink /proc/\$pid/ns/net)" = "\$(readlink /proc/self/ns/net)" ]; then echo "pid \$pid is in the host's network namespace" >&2; exit 1; fi
ip -n $PN link set vc$$ netns \$pid
nsenter --net=/proc/\$pid/ns/net ip link set vc$$ name eth0 mtu 1400 up
nsenter --net=/proc/\$pid/ns/net ip addr add 10.214.0.2/24 dev eth0
nsenter --net=/proc/\$pid/ns/net ip route add default via 10.214.0.1
nsenter --net=/proc/\$pid/ns/net ip -6 addr add fd00:214::2/64 dev eth0 nodad
nsenter --net=/proc/\$pid/ns/net ip -6 route add default via fd00:214::1
EOF
  chmod +x "$BATS_TEST_TMPDIR/hook.sh"
}

@test "the keeper and QEMU are in the container's new network namespace, which ends with it" {
  host_ns="$(readlink /proc/self/ns/net)"
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null >/dev/null 2>&1
  pid="$(cat "$BATS_TEST_TMPDIR/pid")"
  [ "$pid" = "$(state_field c1 pid)" ]
  ns="$(readlink "/proc/$pid/ns/net")"
  [ -n "$ns" ]
  [ "$ns" != "$host_ns" ]
  qemu="$(record_field c1 qemuPid)"
  [ "$(readlink "/proc/$qemu/ns/net")" = "$ns" ]
  runx start c1
  runx delete --force c1
  wait_gone "$pid"
  wait_gone "$qemu"
  [ -z "$(pids_in_netns "$ns")" ]
}

@test "with a namespace given by path, the keeper is in that namespace" {
  make_bundle --set linux.namespaces='[{"type":"pid"},{"type":"network","path":"/run/netns/'"$PN"'"},{"type":"mount"}]' -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  pid="$(state_field c1 pid)"
  [ "$(readlink "/proc/$pid/ns/net")" = "$(ip netns exec "$PN" readlink /proc/self/ns/net)" ]
  runx delete --force c1
  # the namespace is the caller's: it is still there
  ip netns exec "$PN" true
}

@test "an interface moved into the namespace after create, not by a hook, makes start fail in one line" {
  ip link add "vc$$" netns "$PN" type veth peer name "vp$$" netns "$PN"
  make_bundle -- true
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  pid="$(state_field c1 pid)"
  ip -n "$PN" link set "vc$$" netns "$pid"
  nsenter --net="/proc/$pid/ns/net" ip link set "vc$$" up
  run --separate-stderr runx start c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 0 ]
  [[ "$stderr" == *"interface vc$$ was added to the container's network namespace after create"* ]]
  [ "$(wc -l <<<"$stderr")" -eq 1 ]
  [ "$(state_field c1 status)" = created ]
  runx delete --force c1
}

@test "a prestart hook's veth, IPv4/IPv6 addresses, MTU and routes in /proc/<pid>/ns/net are the guest's eth0; the host is untouched" {
  before="$(ip -j link show; ip -j addr show; ip -j route show; ip -6 -j route show)"
  ip link add "vc$$" netns "$PN" type veth peer name "vp$$" netns "$PN"
  ip -n "$PN" addr add 10.214.0.1/24 dev "vp$$"; ip -n "$PN" -6 addr add fd00:214::1/64 dev "vp$$" nodad
  ip -n "$PN" link set "vp$$" mtu 1400 up
  mac="$(ip -n "$PN" -j link show "vc$$" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].address))')"
  write_hook
  make_bundle --set hooks='{"prestart":[{"path":"'"$BATS_TEST_TMPDIR/hook.sh"'"}]}' -- sh -c 'cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu; ip -4 addr show eth0 | grep inet | tr -s " " | cut -d" " -f3; ip route | grep default | cut -d" " -f3; ip -6 addr show eth0 | grep global | tr -s " " | cut -d" " -f3; ip -6 route | grep default | cut -d" " -f3; nc -l -p 7000 -e echo served-from-vm; nc -l -p 7001 -e echo served-over-ipv6'
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  for _ in $(seq 50); do
    run ip netns exec "$PN" busybox nc -w 2 10.214.0.2 7000
    [ "$output" = served-from-vm ] && break
    sleep 0.2
  done
  [ "$output" = served-from-vm ]
  # events --stats counts the VM's traffic, on the namespace's interface
  run runx events --stats c1
  [ "$status" -eq 0 ]
  node -e 'const n=JSON.parse(process.argv[1]).data.network_interfaces[0]; if (n.name !== "eth0" || !(n.rx_bytes > 0) || !(n.tx_bytes > 0)) process.exit(1)' "$output"
  for _ in $(seq 50); do
    run ip netns exec "$PN" busybox nc -w 2 fd00:214::2 7001
    [ "$output" = served-over-ipv6 ] && break
    sleep 0.2
  done
  [ "$output" = served-over-ipv6 ]
  wait_status c1 stopped
  run cat "$BATS_TEST_TMPDIR/out"
  [ "${lines[0]}" = "$mac" ]
  [ "${lines[1]}" = 1400 ]
  [ "${lines[2]}" = 10.214.0.2/24 ]
  [ "${lines[3]}" = 10.214.0.1 ]
  [ "${lines[4]}" = fd00:214::2/64 ]
  [ "${lines[5]}" = fd00:214::1 ]
  runx delete c1
  after="$(ip -j link show; ip -j addr show; ip -j route show; ip -6 -j route show)"
  [ "$before" = "$after" ]
}

@test "restored, a container whose config asks for a new namespace gets one again, its keeper and QEMU in it" {
  host_ns="$(readlink /proc/self/ns/net)"
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  runx start c1
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  runx delete c1
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" --detach c2 </dev/null >/dev/null 2>&1
  pid="$(state_field c2 pid)"
  ns="$(readlink "/proc/$pid/ns/net")"
  [ -n "$ns" ]
  [ "$ns" != "$host_ns" ]
  qemu="$(record_field c2 qemuPid)"
  [ "$(readlink "/proc/$qemu/ns/net")" = "$ns" ]
  [ "$(state_field c2 status)" = running ]
  runx delete --force c2
  wait_gone "$pid"
  wait_gone "$qemu"
  left="$(pids_in_netns "$ns")"; for p in $left; do echo "left: $p $(tr "\0" " " </proc/$p/cmdline)" >&2; done
  [ -z "$left" ]
}

@test "an interface added while the container runs (docker network connect) is reported in --log once; the container runs on untouched" {
  ip link add "vc$$" netns "$PN" type veth peer name "vp$$" netns "$PN"
  make_bundle -- sh -c 'while true; do echo tick; sleep 0.5; done'
  runx --log "$BATS_TEST_TMPDIR/log" create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  pid="$(state_field c1 pid)"
  ip -n "$PN" link set "vc$$" netns "$pid"
  nsenter --net="/proc/$pid/ns/net" ip link set "vc$$" name eth1 up
  for _ in $(seq 100); do grep -q "interface eth1 was added" "$BATS_TEST_TMPDIR/log" && break; sleep 0.1; done
  [ "$(grep -c "interface eth1 was added to the container's network namespace while it runs" "$BATS_TEST_TMPDIR/log")" -eq 1 ]
  grep "interface eth1 was added" "$BATS_TEST_TMPDIR/log" | grep -q '"level":"error"\|level=error\|error'
  n="$(grep -c tick "$BATS_TEST_TMPDIR/out")"
  sleep 3
  [ "$(state_field c1 status)" = running ]
  [ "$(grep -c tick "$BATS_TEST_TMPDIR/out")" -gt "$n" ]
  # said once, and never in the container's output
  [ "$(grep -c "interface eth1 was added" "$BATS_TEST_TMPDIR/log")" -eq 1 ]
  run ! grep -q "was added" "$BATS_TEST_TMPDIR/out"
  # the interface is where it was put, as it was
  nsenter --net="/proc/$pid/ns/net" ip link show eth1 | grep -q "state UP\|LOWERLAYERDOWN\|UP"
  runx delete --force c1
}
