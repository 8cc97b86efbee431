#!/usr/bin/env bats
# config-linux.md "Namespaces", as the runtime-tools harness checks them from outside:
# through /proc/<state.pid>/ns/*. For runc state.pid is the container's process; for
# runx it is the keeper, a host process that runs the VM, which lives in the
# container's network, ipc, uts and cgroup namespaces and not in its mount or pid one
# (README.md, "What does not apply to a VM runtime", says why per namespace).

load helpers

# The host namespaces state.pid has the container's, by runtime.
if [ "$RUNTIME" = runx ]; then PID_NS="net ipc uts cgroup"; else PID_NS="net ipc uts cgroup mnt pid"; fi
declare -gA NS_TYPE=([net]=network [ipc]=ipc [uts]=uts [cgroup]=cgroup [mnt]=mount [pid]=pid)


eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"
teardown() {
  local f
  # The holder's sleep is PID 1 of its namespace: only SIGKILL reaches it from here,
  # and unshare --fork ignores SIGTERM; with --kill-child it ends with its child.
  [ -z "${HOLDER_CHILD:-}" ] || kill -KILL "$HOLDER_CHILD" 2>/dev/null || true
  for f in "${NS_BINDS[@]}"; do umount "$f" 2>/dev/null || true; done
  helpers_teardown
}

ns_of() { readlink "/proc/$1/ns/$2"; }

@test "namespaces: state.pid is in a new namespace of each type the config lists without a path" {
  local t list=""
  for t in net ipc uts cgroup mnt pid; do list+="{\"type\":\"${NS_TYPE[$t]}\"},"; done
  make_bundle --set linux.namespaces="[${list%,}]" -- true
  create "$ID" || { cat "$ERR" >&2; return 1; }
  pid="$(state_field "$ID" pid)"
  for t in $PID_NS; do
    [ -n "$(ns_of "$pid" "$t")" ]
    [ "$(ns_of "$pid" "$t")" != "$(ns_of $$ "$t")" ] || { echo "state.pid $pid is in the host's $t namespace" >&2; return 1; }
  done
  # The keeper runs QEMU: it must stay in the host's mount namespace (it and the CLI
  # share the state directory, the staging mounts of bind mounts, the disks).
  if [ "$RUNTIME" = runx ]; then [ "$(ns_of "$pid" mnt)" = "$(ns_of $$ mnt)" ]; fi
}

@test "namespaces: state.pid is in the namespace of each type the config names by path" {
  # One holder in fresh namespaces of every type (unshare execs sleep in place; with
  # --pid it forks, so the holder's children are in the new pid namespace: the pid one
  # is taken from that child).
  unshare --net --ipc --uts --cgroup --mount --pid --fork --kill-child --mount-proc sleep 1000 </dev/null >/dev/null 2>&1 &
  HOLDER_PID=$!
  local holder="" i t list=""
  for i in $(seq 100); do
    holder="$(pgrep -P "$HOLDER_PID" -x sleep || true)"
    [ -n "$holder" ] && [ "$(ns_of "$holder" uts)" != "$(ns_of $$ uts)" ] && break
    sleep 0.05
  done
  [ -n "$holder" ]
  HOLDER_CHILD=$holder
  # ipc and uts through bind mounts of the namespace files, as `ip netns add` makes
  # them; the others through /proc.
  NS_BINDS=()
  for t in ipc uts; do
    touch "$BATS_TEST_TMPDIR/ns-$t"
    mount --bind "/proc/$holder/ns/$t" "$BATS_TEST_TMPDIR/ns-$t"
    NS_BINDS+=("$BATS_TEST_TMPDIR/ns-$t")
  done
  declare -A path=([ipc]="$BATS_TEST_TMPDIR/ns-ipc" [uts]="$BATS_TEST_TMPDIR/ns-uts")
  for t in net cgroup mnt pid; do path[$t]="/proc/$holder/ns/$t"; done
  for t in net ipc uts cgroup mnt pid; do list+="{\"type\":\"${NS_TYPE[$t]}\",\"path\":\"${path[$t]}\"},"; done
  make_bundle --set linux.namespaces="[${list%,}]" -- true
  create "$ID" || { cat "$ERR" >&2; return 1; }
  pid="$(state_field "$ID" pid)"
  for t in $PID_NS; do
    [ "$(ns_of "$pid" "$t")" = "$(ns_of "$holder" "$t")" ] ||
      { echo "$t: state.pid $pid has $(ns_of "$pid" "$t"), the path $(ns_of "$holder" "$t")" >&2; return 1; }
  done
}

@test "namespaces: a container whose keeper is in its namespaces runs, and its output comes back" {
  make_bundle --set linux.namespaces='[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]' \
    --set hostname='"ns-host"' -- sh -c 'hostname; echo done'
  create "$ID" || { cat "$ERR" >&2; return 1; }
  rt start "$ID"
  wait_status "$ID" stopped
  [ "$(cat "$OUT")" = "$(printf 'ns-host\ndone')" ]
  # The host's own hostname is not the container's.
  [ "$(hostname)" != ns-host ]
}
