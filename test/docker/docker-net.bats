#!/usr/bin/env bats
# Docker's own networking with runx containers: the default bridge with a published
# port, and a user-defined bridge. The dockerd here runs inside a network namespace the
# test makes, with iptables on, so docker0, its iptables rules and all
# container traffic live there; the host's namespace is snapshotted before and after
# and must not change. Its data root, exec root and socket are its own.

bats_require_minimum_version 1.5.0
REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
source "$REPO/test/runx-bin.bash"
source "$BATS_TEST_DIRNAME/host-net.bash"
IMAGE=runx-busybox:latest

setup_file() {
  command -v dockerd >/dev/null || skip "dockerd is not installed (apt-get install docker.io)"
  DOCKER_CLI=/usr/bin/docker
  [ -x "$DOCKER_CLI" ] || DOCKER_CLI="$(command -v docker)" || skip "no docker client (apt-get install docker.io)"
  DK="$(mktemp -d /tmp/runx-dockernet.XXXXXX)"
  EXE="$(mktemp -d /tmp/rxn.XXX)"
  NS="rxdk$$"
  export DK EXE NS DOCKER_CLI DOCKER_HOST="unix://$DK/docker.sock"
  host_net_snapshot >"$DK/host-before"
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  mkdir -p "$DK/data"
  # A bridge address of its own: docker0 lives in $NS only.
  # nsenter, not `ip netns exec`, whose new mount namespace remounts /sys without its
  # cgroup mounts, which dockerd needs.
  nsenter --net="/run/netns/$NS" dockerd --data-root "$DK/data" --exec-root "$EXE" -H "$DOCKER_HOST" --pidfile "$DK/dockerd.pid" \
    --iptables=true --bip 10.216.0.1/24 --default-address-pool base=10.217.0.0/16,size=24 \
    --add-runtime "runx=$RUNX_BIN" >"$DK/dockerd.log" 2>&1 &
  echo $! >"$DK/pid"
  local up=""
  for _ in $(seq 300); do
    if "$DOCKER_CLI" version >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$(cat "$DK/pid")" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$up" ]; then
    echo "dockerd did not come up: $(tail -n 3 "$DK/dockerd.log")" >&2
    return 1
  fi
  node "$REPO/test/helpers/make-docker-archive.mjs" "$DK/image.tar" "docker.io/library/$IMAGE"
  "$DOCKER_CLI" load -i "$DK/image.tar" >/dev/null
}

teardown_file() {
  [ -n "${DK:-}" ] && [ -d "$DK" ] || return 0
  if [ -S "$DK/docker.sock" ]; then
    for c in $("$DOCKER_CLI" ps -aq 2>/dev/null); do "$DOCKER_CLI" rm -f "$c" >/dev/null 2>&1 || true; done
    for n in $("$DOCKER_CLI" network ls -q --filter type=custom 2>/dev/null); do "$DOCKER_CLI" network rm "$n" >/dev/null 2>&1 || true; done
  fi
  local pid ctd
  ctd="$(cat "$EXE/containerd/containerd.pid" 2>/dev/null || true)"
  pid="$(cat "$DK/pid" 2>/dev/null || true)"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "$ctd" ] && kill -0 "$ctd" 2>/dev/null && grep -q "$EXE" "/proc/$ctd/cmdline" 2>/dev/null; then kill "$ctd" 2>/dev/null || true; fi
  for p in $(pgrep -f "containerd-shim.*$EXE/" || true); do kill "$p" 2>/dev/null || true; done
  for root in "$EXE"/runtime-*/moby; do
    [ -d "$root" ] || continue
    for id in $("$RUNX_BIN" --root "$root" list -q 2>/dev/null); do "$RUNX_BIN" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; done
  done
  # overlay, netns and the data root's own bind mounts, deepest first
  for m in $(findmnt -rn -o TARGET | grep -E "^($DK|$EXE)(/|$)" | sort -r); do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DK" "$EXE"
}

docker() {
  "$DOCKER_CLI" "$@"
}

@test "docker run -d -p 127.0.0.1:PORT:80 httpd on the default bridge answers curl" {
  port=18080
  docker run -d --runtime runx --name web -p "127.0.0.1:$port:80" "$IMAGE" \
    sh -c 'mkdir -p /www && echo served-by-runx >/www/index.html && exec httpd -f -p 80 -h /www'
  pid="$(docker inspect -f '{{.State.Pid}}' web)"
  # Docker's pid is runx's keeper, in the container's namespace (where dockerd put eth0)
  [ "$(readlink "/proc/$pid/ns/net")" != "$(ip netns exec "$NS" readlink /proc/self/ns/net)" ]
  nsenter --net="/proc/$pid/ns/net" ip -br link show eth0
  for _ in $(seq 100); do
    run ip netns exec "$NS" curl -s --max-time 2 "http://127.0.0.1:$port/"
    [ "$output" = served-by-runx ] && break
    sleep 0.3
  done
  [ "$output" = served-by-runx ]
  # docker top lists host processes of the pids runx ps --format json gives: the keeper's among them
  run docker top web
  [ "$status" -eq 0 ]
  [[ "$output" == *" $pid "* ]]
  docker rm -f web
  host_net_snapshot >"$DK/host-after"
  diff "$DK/host-before" "$DK/host-after"
}

@test "containers on a user-defined bridge reach each other by name (Docker's embedded DNS at 127.0.0.11)" {
  docker network create --driver bridge rxnet
  docker run -d --runtime runx --network rxnet --name srv "$IMAGE" \
    sh -c 'mkdir -p /www && echo from-srv >/www/index.html && exec httpd -f -p 80 -h /www'
  run --separate-stderr docker run --rm --runtime runx --network rxnet "$IMAGE" \
    sh -c "grep -x 'nameserver 127.0.0.11' /etc/resolv.conf >&2; for i in \$(seq 50); do printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 srv 80 | grep -x from-srv && exit 0; sleep 0.3; done; exit 1"
  echo "status $status, output: $output, stderr: $stderr" >&2
  [ "$status" -eq 0 ]
  [ "$output" = from-srv ]
  docker rm -f srv
  docker network rm rxnet
  host_net_snapshot >"$DK/host-after"
  diff "$DK/host-before" "$DK/host-after"
}

@test "on an IPv6 bridge network the guest's eth0 has the addresses Docker gave the container" {
  docker network create --driver bridge --ipv6 --subnet 10.218.0.0/24 --subnet fd00:218::/64 rxnet6
  run --separate-stderr docker run --rm --runtime runx --network rxnet6 --ip6 fd00:218::42 "$IMAGE" \
    sh -c 'ip -4 addr show eth0 | grep inet | tr -s " " | cut -d" " -f3; ip -6 addr show eth0 | grep global | tr -s " " | cut -d" " -f3; ip -6 route | grep default | cut -d" " -f3'
  echo "status $status, output: $output, stderr: $stderr" >&2
  docker network rm rxnet6
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == 10.218.0.*/24 ]]
  [ "${lines[1]}" = fd00:218::42/64 ]
  [ "${lines[2]}" = fd00:218::1 ]
}

@test "docker network connect of a running container: one error line in runx's log, the container runs on untouched" {
  docker network create --driver bridge rxnet2
  id="$(docker run -d --runtime runx "$IMAGE" sh -c 'while true; do echo tick; sleep 0.5; done')"
  docker network connect rxnet2 "$id"
  log=""
  for _ in $(seq 150); do
    log="$(find "$EXE" -name log.json -path "*$id*" 2>/dev/null | head -n 1)"
    [ -n "$log" ] && grep -q "was added to the container's network namespace while it runs" "$log" && break
    sleep 0.1
  done
  echo "log: $log" >&2
  [ -n "$log" ]
  [ "$(grep -c "was added to the container's network namespace while it runs" "$log")" -eq 1 ]
  grep "was added to the container" "$log" | grep -q '"level":"error"'
  n="$(docker logs "$id" 2>&1 | grep -c tick)"
  sleep 2
  [ "$(docker inspect -f '{{.State.Running}}' "$id")" = true ]
  [ "$(docker logs "$id" 2>&1 | grep -c tick)" -gt "$n" ]
  # nothing of runx's in the container's own output
  run ! grep -q "was added" <(docker logs "$id" 2>&1)
  docker rm -f "$id"
  docker network rm rxnet2
  host_net_snapshot >"$DK/host-after"
  diff "$DK/host-before" "$DK/host-after"
}
