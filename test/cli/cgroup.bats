#!/usr/bin/env bats
# linux.cgroupsPath on the host: the keeper and its QEMU are in the container's cgroup
# in every hierarchy (what containerd's stats and OOM events read), the CPU limits
# bound the VM, memory is left to the guest, and delete removes the cgroup. A path
# that cannot be made fails create in one line and leaves nothing.

load helpers

CGROOT=/sys/fs/cgroup

eval "helpers_$(declare -f setup)"
eval "helpers_$(declare -f teardown)"

setup() {
  [ "$(id -u)" = 0 ] || skip "needs root to make cgroups"
  helpers_setup
  # Unique per test, so runs side by side never share a cgroup.
  TAG="${ROOT##*.}"
  # Cgroup paths (below each hierarchy's root), deepest first, that teardown removes
  # if the test left them.
  CLEAN=()
}

teardown() {
  helpers_teardown
  local p h
  for p in "${CLEAN[@]}"; do
    for h in $(hierarchies); do
      if [ -d "$h$p" ]; then rmdir "$h$p" 2>/dev/null || true; fi
    done
  done
}

v2() { [ -e "$CGROOT/cgroup.controllers" ]; }

hierarchies() { # the mounted hierarchies' directories (the root itself on v2)
  if v2; then echo "$CGROOT"; return 0; fi
  local d
  for d in "$CGROOT"/*; do
    if [ -d "$d" ] && [ ! -L "$d" ] && [ -e "$d/cgroup.procs" ]; then echo "$d"; fi
  done
}

cgdir() { # controller path
  if v2; then echo "$CGROOT$2"; else echo "$CGROOT/$1$2"; fi
}

own_cgroup() { # controller: our cgroup in its hierarchy (where a relative path starts)
  if v2; then awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup; else awk -F: -v c="$1" '$2 == c { print $3 }' /proc/self/cgroup; fi
}

# create_c1: c1 created from $BUNDLE; $keeper is the pid create reported, $qemu its VM's
create_c1() {
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1
  keeper="$(cat "$BATS_TEST_TMPDIR/pid")"
  qemu="$(record_field c1 qemuPid)"
}

no_state() { [ -z "$(ls -A "$ROOT" | grep -v '^\.' || true)" ]; }

@test "the keeper and QEMU are in cgroupsPath in every hierarchy, with the CPU quota, pids.max at least 128 and no memory limit; delete removes it" {
  CG="/runx-bats-$TAG"
  CLEAN=("$CG")
  make_bundle --set linux.cgroupsPath="$CG" \
    --set linux.resources='{"cpu":{"quota":200000,"period":100000},"memory":{"limit":67108864},"pids":{"limit":32}}' -- true
  create_c1
  [ -n "$qemu" ]
  [ "$qemu" != "$keeper" ]
  for c in pids memory; do
    grep -qx "$qemu" "$(cgdir "$c" "$CG")/cgroup.procs"
    grep -qx "$keeper" "$(cgdir "$c" "$CG")/cgroup.procs"
  done
  # every hierarchy QEMU is in, not just those two
  [ "$(grep -vc ":$CG\$" "/proc/$qemu/cgroup" || true)" -eq 0 ]
  if v2; then
    [ "$(cat "$CGROOT$CG/cpu.max")" = "200000 100000" ]
    [ "$(cat "$CGROOT$CG/memory.max")" = max ]
  else
    [ "$(cat "$CGROOT/cpu$CG/cpu.cfs_quota_us")" = 200000 ]
    [ "$(cat "$CGROOT/cpu$CG/cpu.cfs_period_us")" = 100000 ]
    # The guest gets the container's memory limit; QEMU needs more than that.
    [ "$(cat "$CGROOT/memory$CG/memory.limit_in_bytes")" -gt $((1 << 40)) ]
  fi
  # The container's limit of 32 holds in the guest; on the host it is raised to what
  # the keeper's and QEMU's own threads may need (HOST_PIDS_FLOOR, 128).
  [ "$(cat "$(cgdir pids "$CG")/pids.max")" = 128 ]
  runx delete --force c1
  for h in $(hierarchies); do [ ! -e "$h$CG" ]; done
}

@test "run: a nested cgroupsPath is gone when run returns, its parent stays as runc leaves it" {
  CG="/runx-bats-$TAG/ctr"
  CLEAN=("$CG" "/runx-bats-$TAG")
  make_bundle --set linux.cgroupsPath="$CG" -- sh -c 'echo in-vm'
  run runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "$output" = in-vm ]
  for h in $(hierarchies); do
    [ ! -e "$h$CG" ]
    [ -d "$h/runx-bats-$TAG" ]
  done
}

@test "without cgroupsPath runx makes no host cgroup: the VM stays in the caller's" {
  id="cg$TAG"
  make_bundle -- true
  runx create --bundle "$BUNDLE" "$id" </dev/null >/dev/null 2>&1
  qemu="$(record_field "$id" qemuPid)"
  if v2; then
    mine="$(own_cgroup)"
    got="$(awk -F: '$1 == "0" { print $3 }' "/proc/$qemu/cgroup")"
  else
    mine="$(own_cgroup memory)"
    got="$(awk -F: '$2 == "memory" { print $3 }' "/proc/$qemu/cgroup")"
  fi
  CLEAN=("${mine%/}/$id" "/$id")
  [ "$got" = "$mine" ]
  [ ! -e "$(cgdir memory "${mine%/}/$id")" ]
  [ -z "$(record_field "$id" cgroup)" ]
  runx delete --force "$id"
}

@test "--systemd-cgroup: slice:prefix:name is the scope runc's systemd driver names, made without systemd" {
  SLICE="runxbats$TAG.slice"
  CG="/$SLICE/bats-c1.scope"
  CLEAN=("$CG" "/$SLICE")
  make_bundle --set linux.cgroupsPath="$SLICE:bats:c1" -- true
  "$RUNX_BIN" --root "$ROOT" --systemd-cgroup create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  qemu="$(record_field c1 qemuPid)"
  [ "$(grep -vc ":$CG\$" "/proc/$qemu/cgroup" || true)" -eq 0 ]
  "$RUNX_BIN" --root "$ROOT" --systemd-cgroup delete --force c1
  for h in $(hierarchies); do [ ! -e "$h$CG" ]; done
}

@test "a cgroupsPath that cannot be made fails create in one line, exit 1, leaving nothing" {
  # memory.stat is a file at the memory root: the hierarchies before it get the
  # directory first, and must lose it again.
  make_bundle --set linux.cgroupsPath=/memory.stat/c1 -- true
  run runx create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"cannot create cgroup $(cgdir memory /memory.stat): a file of that name is in the way" ]]
  no_state
  for h in $(hierarchies); do [ ! -d "$h/memory.stat" ]; done

  CLEAN=("/runx-bats-$TAG")
  make_bundle --set linux.cgroupsPath="/runx-bats-$TAG" -- true
  run "$RUNX_BIN" --root "$ROOT" --systemd-cgroup create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *'linux.cgroupsPath must be "slice:prefix:name" with --systemd-cgroup'* ]]
  no_state
  for h in $(hierarchies); do [ ! -e "$h/runx-bats-$TAG" ]; done
}

@test "with a cgroup namespace the keeper joins cgroupsPath first: its namespace, and QEMU's, is rooted there" {
  CG="/runx-bats-ns-$TAG"
  CLEAN=("$CG")
  make_bundle --set linux.cgroupsPath="$CG" \
    --set linux.namespaces='[{"type":"pid"},{"type":"mount"},{"type":"cgroup"}]' -- true
  create_c1
  [ "$(readlink /proc/$keeper/ns/cgroup)" != "$(readlink /proc/self/ns/cgroup)" ]
  [ "$(readlink /proc/$qemu/ns/cgroup)" = "$(readlink /proc/$keeper/ns/cgroup)" ]
  grep -qx "$keeper" "$(cgdir pids "$CG")/cgroup.procs"
  # Seen from inside that namespace the keeper's cgroup is its root: the namespace was
  # made once the keeper was in cgroupsPath (before, a v2 host refuses the move).
  inside="$(nsenter -t "$keeper" --cgroup cat "/proc/$keeper/cgroup")"
  if v2; then [ "$inside" = "0::/" ]; else grep -q ':pids:/$' <<<"$inside"; fi
  runx delete --force c1
}
