#!/usr/bin/env bats
# linux.resources inside the guest: the container's processes (its own and exec'd
# ones) are in a cgroup of the guest kernel with the config's limits, which the
# container sees in its own cgroup mount; `update` changes them live (flags, or
# LinuxResources JSON from stdin as containerd's shim sends it); `events` reports the
# usage as runc prints it. Bad input is one line, exit 1, and changes nothing.

load helpers

MEM=67108864 # 64 MiB

# The default namespaces plus a cgroup one, so the container's cgroup mount shows its
# own cgroup at /sys/fs/cgroup.
NS='[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]'

start_limited() { # [make_bundle args...]: a running c1 with memory and pids limits
  make_bundle --set linux.namespaces="$NS" \
    --set linux.resources="{\"memory\":{\"limit\":$MEM},\"pids\":{\"limit\":20}}" "$@" -- sleep 1000
  runx run -d --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  wait_status c1 running
}

cg() { # file of the container's cgroup, read from inside the container
  runx exec c1 cat "/sys/fs/cgroup/$1"
}

json() { # JS expression over the JSON on stdin (as `j`), printed
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(eval(process.argv[1]))})' "$1"
}

@test "resources: the container's process sees its limits in its own cgroup; exec'd processes share that cgroup" {
  make_bundle --set linux.namespaces="$NS" \
    --set linux.resources="{\"memory\":{\"limit\":$MEM},\"pids\":{\"limit\":20},\"cpu\":{\"quota\":50000,\"period\":100000,\"shares\":2048}}" \
    -- sh -c 'cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight; exec sleep 1000'
  runx run -d --bundle "$BUNDLE" c1 </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1
  wait_status c1 running
  for ((i = 0; i < 300; i++)); do
    [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -ge 5 ] && break
    sleep 0.1
  done
  run runx exec c1 sh -c 'cat /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.procs | wc -l'
  [ "$status" -eq 0 ]
  # the container's own process and this one (sh, and cat or wc) are in the one cgroup
  [ "${lines[0]}" = "0::/" ]
  [ "${lines[1]}" -ge 2 ]
  # 2048 shares is cpu.weight 1 + 2046 * 9999 / 262142 = 79 (runc's mapping)
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "$(printf '0::/\n%s\n20\n50000 100000\n79' "$MEM")" ]
}

@test "resources: without a cgroup namespace the container's cgroup is the one /proc/self/cgroup names" {
  make_bundle --set linux.resources='{"pids":{"limit":33}}' \
    -- sh -c 'p=$(cut -d: -f3 /proc/self/cgroup); echo $p; cat /sys/fs/cgroup$p/pids.max'
  run runx run --bundle "$BUNDLE" c1 </dev/null
  [ "$status" -eq 0 ]
  [ "${lines[0]}" != "/" ]
  [ "${lines[1]}" = 33 ]
}

@test "resources: a process beyond pids.limit cannot fork; update --pids-limit raises it live" {
  start_limited --set linux.resources.pids.limit=4
  # the container's sleep, this sh and two sleeps make 4: the third sleep cannot be forked
  run --separate-stderr runx exec c1 sh -c 'for i in 1 2 3; do sleep 1000 </dev/null >/dev/null 2>&1 & done; echo unreachable'
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"can't fork"* ]]
  [ "$output" = "" ]
  runx update --pids-limit 20 c1
  [ "$(cg pids.max)" = 20 ]
  run runx exec c1 sh -c 'sleep 0 & sleep 0 & wait; echo forked'
  [ "$status" -eq 0 ]
  [ "$output" = forked ]
  [ "$(runx events --stats c1 | json 'j.data.pids.limit')" = 20 ]
}

@test "update --resources - and --resources=- read LinuxResources JSON from stdin; -r FILE from a file" {
  start_limited
  [ "$(cg memory.max)" = "$MEM" ]
  echo '{"memory":{"limit":100663296}}' | runx update --resources - c1
  [ "$(cg memory.max)" = 100663296 ]
  echo '{"pids":{"limit":50},"cpu":{"quota":20000,"period":100000}}' | runx update --resources=- c1
  [ "$(cg pids.max)" = 50 ]
  [ "$(cg cpu.max)" = "20000 100000" ]
  # what the shim sends carries fields the guest does not apply: accepted, the rest applied
  echo '{"memory":{"limit":-1,"swap":-1},"cpu":{"cpus":"0","shares":1024},"pids":{"limit":-1},"blockIO":{"weight":100}}' >"$BATS_TEST_TMPDIR/r.json"
  runx update -r "$BATS_TEST_TMPDIR/r.json" c1 2>/dev/null
  [ "$(cg memory.max)" = max ]
  [ "$(cg pids.max)" = max ]
  runx update --memory 80m --cpu-quota -1 --cpu-share 512 c1
  [ "$(cg memory.max)" = 83886080 ]
  [ "$(cg cpu.max)" = "max 100000" ]
  [ "$(state_field c1 status)" = running ]
}

@test "events --stats: one JSON line with the container's usage and limits" {
  start_limited
  run --separate-stderr runx events --stats c1
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  check='j.type==="stats" && j.id==="c1" && j.data.cpu.usage.total > 0 && j.data.cpu.usage.total >= j.data.cpu.usage.user
    && j.data.memory.usage.limit === '"$MEM"' && j.data.memory.usage.usage > 0 && j.data.memory.usage.usage <= j.data.memory.usage.limit
    && j.data.memory.usage.max >= j.data.memory.usage.usage && j.data.pids.current >= 1 && j.data.pids.limit === 20'
  [ "$(echo "$output" | json "$check")" = true ]
}

@test "events: a stats line every interval until the container ends" {
  start_limited
  runx events --interval 200ms c1 >"$BATS_TEST_TMPDIR/ev" 2>"$BATS_TEST_TMPDIR/ev.err" &
  ev=$!
  for ((i = 0; i < 300; i++)); do
    [ "$(wc -l <"$BATS_TEST_TMPDIR/ev")" -ge 2 ] && break
    sleep 0.1
  done
  [ "$(wc -l <"$BATS_TEST_TMPDIR/ev")" -ge 2 ]
  runx kill c1 KILL
  wait_gone "$ev" 300
  wait "$ev"
  [ ! -s "$BATS_TEST_TMPDIR/ev.err" ]
  [ "$(json 'j.type + " " + j.id' < <(head -1 "$BATS_TEST_TMPDIR/ev"))" = "stats c1" ]
}

@test "resources: bad input is one line, exit 1, and the container is untouched" {
  start_limited
  one_line_error() { # pattern: the last `run` failed with exactly one line on stderr matching it
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "${stderr_lines[0]}" =~ $1 ]]
  }
  run --separate-stderr runx update --resources - c1 <<<'{"memory":'
  one_line_error '^runx: decoding resources from stdin: '
  run --separate-stderr runx update --resources=- c1 <<<'[1]'
  one_line_error '^runx: resources must be an object$'
  run --separate-stderr runx update -r - c1 <<<'{"pids":{"limit":"many"}}'
  one_line_error 'resources\.pids\.limit must be an integer'
  run --separate-stderr runx update --memory 12q c1
  one_line_error 'invalid value for --memory'
  run --separate-stderr runx update --cpu-period 10 c1
  one_line_error '^runx: --cpu-period 10 is out of range'
  run --separate-stderr runx update --memory-swap 1000 c1
  one_line_error 'memory\+swap limit should be >= memory limit'
  run --separate-stderr runx update --cpuset-cpus 0 c1
  one_line_error 'not supported by runx'
  run --separate-stderr runx update --pids-limit 5 nosuch
  one_line_error '^runx: container "nosuch" does not exist$'
  run --separate-stderr runx events --stats nosuch
  one_line_error '^runx: container "nosuch" does not exist$'
  run --separate-stderr runx events --interval 5x c1
  one_line_error 'invalid --interval "5x"'
  # nothing above changed it
  [ "$(cg memory.max)" = "$MEM" ]
  [ "$(cg pids.max)" = 20 ]
  [ "$(cg memory.swap.max)" = max ]
  [ "$(state_field c1 status)" = running ]

  runx kill c1 KILL
  wait_status c1 stopped
  run --separate-stderr runx update --pids-limit 5 c1
  one_line_error 'not running'
  run --separate-stderr runx update --resources - c1 <<<'{"pids":{"limit":5}}'
  one_line_error 'not running'
  run --separate-stderr runx events --stats c1
  one_line_error '^runx: container with id c1 is not running$'
  [ "$(state_field c1 status)" = stopped ]
}

@test "resources: a bad linux.resources value fails create in one line and leaves nothing" {
  make_bundle --set linux.resources='{"pids":{"limit":-5}}' -- true
  run --separate-stderr runx create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [ "${#stderr_lines[@]}" -eq 1 ] || { printf 'stderr was: %s\n' "$stderr"; false; }
  [[ "$stderr" == *"linux.resources.pids.limit must be positive, or -1 for no limit"* ]]
  [ -z "$(runx list -q)" ]
}
