#!/usr/bin/env bats
# runx exec and terminals through the built binary against real VMs: the exec'd
# process runs in the container (its namespaces, root and hostname), its stdio and
# exit status are the caller's, --detach leaves a relay whose pid the pid file names,
# terminals go over --console-socket as runc sends them, and bad input is one line.

load helpers

RECEIVER() { node "$REPO/test/helpers/console-receiver.mjs" "$@"; }

start_sleeper() { # [make_bundle args...]
  make_bundle "$@" -- sh -c 'hostname > /tmp/by-init; echo $$ > /tmp/init-pid; exec sleep 1000'
  runx run -d --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  wait_status c1 running
}

@test "exec: stdout, stderr and exit status are the process's; it sees the container's root, hostname and pid namespace" {
  start_sleeper --set hostname='"exec-host"'
  run --separate-stderr runx exec c1 sh -c 'cat /tmp/by-init; hostname; echo oops >&2; exit 7'
  [ "$status" -eq 7 ]
  [ "$output" = "$(printf 'exec-host\nexec-host')" ]
  [ "$stderr" = oops ]
  # the container's own process is PID 1 of the namespace the exec'd one is in
  run runx exec c1 sh -c 'cat /proc/1/cmdline | tr "\0" " "'
  [ "$output" = "sleep 1000 " ]
  [ "$(state_field c1 status)" = running ]
}

@test "exec: stdin reaches the process, every byte of it" {
  start_sleeper
  head -c 1048576 /dev/urandom >"$BATS_TEST_TMPDIR/in"
  want="$(sha256sum <"$BATS_TEST_TMPDIR/in" | cut -d' ' -f1)"
  got="$(runx exec c1 sha256sum <"$BATS_TEST_TMPDIR/in" | cut -d' ' -f1)"
  [ "$got" = "$want" ]
}

@test "exec: a process that does not read its stdin holds up nothing else; ps, exec and kill answer" {
  start_sleeper
  head -c 41943040 /dev/zero >"$BATS_TEST_TMPDIR/in"
  # The binary itself, not the runx function: $! must be the process reading the file.
  "$RUNX_BIN" --root "$ROOT" exec c1 sleep 999 <"$BATS_TEST_TMPDIR/in" >/dev/null 2>&1 &
  pid=$!
  # How far it has read its stdin: it relays input once the process runs, and stops
  # when nothing takes more (before flow control: all 40 MiB, at once).
  pos() { awk '/^pos:/ {print $2}' "/proc/$pid/fdinfo/0" 2>/dev/null || echo 0; }
  last=-1
  for _ in $(seq 60); do
    now="$(pos)"
    [ "$now" -gt 0 ] && [ "$now" = "$last" ] && break
    last="$now"; sleep 0.5
  done
  [ "$(pos)" -gt 0 ]
  run timeout 30 "$RUNX_BIN" --root "$ROOT" ps c1
  [ "$status" -eq 0 ]
  [[ "$output" == *"sleep 999"* ]]
  run timeout 30 "$RUNX_BIN" --root "$ROOT" exec c1 echo alive
  [ "$status" -eq 0 ]
  [ "$output" = alive ]
  # backpressure reached the source: what is in flight is bounded, not the file
  [ "$(pos)" -lt 8388608 ]
  run timeout 30 "$RUNX_BIN" --root "$ROOT" kill c1 KILL
  [ "$status" -eq 0 ]
  wait_status c1 stopped 300
  wait_gone "$pid" 300
}

@test "exec: a signal to runx exec reaches its process while the process leaves its stdin unread" {
  start_sleeper
  head -c 41943040 /dev/zero >"$BATS_TEST_TMPDIR/in"
  "$RUNX_BIN" --root "$ROOT" exec c1 sh -c 'trap "exit 9" TERM; while :; do sleep 1; done' <"$BATS_TEST_TMPDIR/in" >/dev/null 2>&1 &
  pid=$!
  pos() { awk '/^pos:/ {print $2}' "/proc/$pid/fdinfo/0" 2>/dev/null || echo 0; }
  last=-1
  for _ in $(seq 60); do
    now="$(pos)"
    [ "$now" -gt 0 ] && [ "$now" = "$last" ] && break
    last="$now"; sleep 0.5
  done
  kill -TERM "$pid"
  # the signal's control frame is not queued behind the unread input
  wait_gone "$pid" 300
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 9 ]
}

@test "exec: --env, --cwd and --user change the process; args after the id are its own" {
  start_sleeper
  run runx exec --env FOO=bar --cwd /tmp --user 1000:1001 c1 sh -c 'echo $FOO $(pwd) $(id -u):$(id -g) "$@"' -user x
  [ "$status" -eq 0 ]
  [ "$output" = "bar /tmp 1000:1001 x" ]
}

@test "exec --process: the process comes from the file" {
  start_sleeper
  cat >"$BATS_TEST_TMPDIR/p.json" <<'JSON'
{"args":["sh","-c","echo $WHO in $(pwd) as $(id -u); exit 3"],"env":["WHO=proc-file","PATH=/bin"],"cwd":"/etc","user":{"uid":42,"gid":42}}
JSON
  run runx exec --process "$BATS_TEST_TMPDIR/p.json" c1
  [ "$status" -eq 3 ]
  [ "$output" = "proc-file in /etc as 42" ]
}

@test "exec --detach: the pid file names a host process that lives as long as the exec'd one" {
  start_sleeper
  runx exec -d --pid-file "$BATS_TEST_TMPDIR/pid" c1 sh -c 'echo detached >/tmp/mark; sleep 3' </dev/null
  pid="$(cat "$BATS_TEST_TMPDIR/pid")"
  [[ "$pid" =~ ^[0-9]+$ ]]
  kill -0 "$pid"
  grep -q "exec relay" "/proc/$pid/cmdline"
  [ "$(runx exec c1 cat /tmp/mark)" = detached ]
  wait_gone "$pid" 150
  [ "$(state_field c1 status)" = running ]
}

@test "exec: a signal to runx exec reaches the process; a killed relay takes its process along" {
  start_sleeper
  # The binary itself, not the runx shell function: $! must be runx exec's own pid.
  "$RUNX_BIN" --root "$ROOT" exec c1 sh -c 'trap "echo got-term; exit 9" TERM; (sleep 100; touch /tmp/bg-done) & wait' >"$BATS_TEST_TMPDIR/out" &
  pid=$!
  # the sleep itself, started after the trap is set (not sh's command line, which names it)
  for _ in $(seq 100); do runx exec c1 ps -o args | grep -qx 'sleep 100' && break; sleep 0.1; done
  kill -TERM "$pid"
  status=0; wait "$pid" || status=$?
  echo "status $status, output: $(cat "$BATS_TEST_TMPDIR/out")"
  [ "$status" -eq 9 ]
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = got-term ]
  # exec ended with its process, as runc exec does, not with the background job that
  # still holds its output pipe (it used to wait the 100 s out)
  run runx exec c1 sh -c 'test -e /tmp/bg-done'
  [ "$status" -eq 1 ]

  runx exec -d --pid-file "$BATS_TEST_TMPDIR/pid" c1 sleep 200 </dev/null
  for _ in $(seq 100); do runx exec c1 ps | grep -q 'sleep 200' && break; sleep 0.1; done
  kill -KILL "$(cat "$BATS_TEST_TMPDIR/pid")"
  gone=no
  for _ in $(seq 100); do runx exec c1 ps | grep -q 'sleep 200' || { gone=yes; break; }; sleep 0.1; done
  [ "$gone" = yes ]
}

@test "exec -t with --console-socket: the master arrives over the socket; the process has a terminal that follows resizes" {
  start_sleeper
  sock="$BATS_TEST_TMPDIR/console.sock"
  RECEIVER "$sock" --rows 30 --cols 100 --resize-after 3:40x120 --timeout 60 >"$BATS_TEST_TMPDIR/console" &
  rcv=$!
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  runx exec -t -d --console-socket "$sock" c1 sh -c 'trap "stty size" WINCH; tty; sleep 2; stty size; sleep 4' </dev/null
  wait "$rcv"
  out="$(tr -d '\r' <"$BATS_TEST_TMPDIR/console")"
  [[ "$out" == *"/dev/pts/"* ]]
  [[ "$out" == *"30 100"* ]]
  [[ "$out" == *"40 120"* ]]
}

@test "create with process.terminal and --console-socket: input and output go through the terminal" {
  make_bundle --set process.terminal=true -- sh -c 'read line; echo got:$line; exit 4'
  sock="$BATS_TEST_TMPDIR/console.sock"
  RECEIVER "$sock" --input 'hello\n' --timeout 60 >"$BATS_TEST_TMPDIR/console" &
  rcv=$!
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  runx create --bundle "$BUNDLE" --console-socket "$sock" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null
  runx start c1
  wait "$rcv"
  wait_status c1 stopped
  [ "$(record_field c1 exitStatus)" = 4 ]
  out="$(tr -d '\r' <"$BATS_TEST_TMPDIR/console")"
  # the guest terminal echoes the input, then the process answers
  [[ "$out" == *"hello"*"got:hello"* ]]
}

@test "terminal rules as runc's: a detached terminal needs a console socket, a socket needs a terminal" {
  make_bundle --set process.terminal=true -- true
  run runx create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot allocate tty if runx will detach without setting console socket"* ]]
  [ -z "$(runx list -q)" ]
  start_sleeper
  run runx exec -d -t c1 true
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot allocate tty"* ]]
  run runx exec -d --console-socket /tmp/nowhere.sock c1 true
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot use console socket"* ]]
}

@test "bad input: malformed --process, a console socket nobody listens on, no args, stopped or unknown container" {
  start_sleeper
  echo '{"args": ["sh",' >"$BATS_TEST_TMPDIR/bad.json"
  run runx exec --process "$BATS_TEST_TMPDIR/bad.json" c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"is not valid JSON"* ]]
  echo '{"args": ["sh"], "cwd": "relative", "user": {"uid": 0, "gid": 0}}' >"$BATS_TEST_TMPDIR/bad2.json"
  run runx exec --process "$BATS_TEST_TMPDIR/bad2.json" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"cwd"* ]]
  run runx exec -t -d --console-socket "$BATS_TEST_TMPDIR/none.sock" c1 sh
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"console socket"* ]]
  run runx exec c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"args cannot be empty"* ]]
  run runx exec nosuch true
  [ "$status" -eq 1 ]
  [[ "$output" == *'container "nosuch" does not exist'* ]]
  # none of it touched the container
  [ "$(state_field c1 status)" = running ]
  [ "$(runx exec c1 echo still-here)" = still-here ]
  runx kill c1 KILL
  wait_status c1 stopped
  run runx exec c1 true
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot exec in a stopped container"* ]]
}

@test "exec in a paused container is refused" {
  start_sleeper
  runx pause c1
  run runx exec c1 true
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot exec in a paused container"* ]]
  runx resume c1
  [ "$(runx exec c1 echo ok)" = ok ]
}

@test "run with process.terminal in a real terminal: raw, so Ctrl-C reaches the container as its SIGINT" {
  command -v script >/dev/null || skip "script(1) from util-linux provides the terminal"
  make_bundle --set process.terminal=true -- sh -c 'trap "echo got-int; exit 5" INT; echo ready; while :; do sleep 1; done'
  mkfifo "$BATS_TEST_TMPDIR/keys"
  script -qec "$RUNX_BIN --root $ROOT run --bundle $BUNDLE c1" /dev/null <"$BATS_TEST_TMPDIR/keys" >"$BATS_TEST_TMPDIR/screen" &
  pid=$!
  exec 8>"$BATS_TEST_TMPDIR/keys"
  for _ in $(seq 300); do grep -q ready "$BATS_TEST_TMPDIR/screen" && break; sleep 0.1; done
  printf '\003' >&8
  status=0; wait "$pid" || status=$?
  exec 8>&-
  [ "$status" -eq 5 ]
  grep -q got-int "$BATS_TEST_TMPDIR/screen"
}

@test "exec: in a container with a user namespace, the exec'd process is in it, as the container's ids" {
  start_sleeper --set linux.namespaces='[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}]' \
    --set linux.uidMappings='[{"containerID":0,"hostID":100000,"size":65536}]' \
    --set linux.gidMappings='[{"containerID":0,"hostID":100000,"size":65536}]'
  run runx exec c1 sh -c 'cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user; readlink /proc/1/ns/user'
  [ "$status" -eq 0 ]
  [ "$(echo "${lines[0]}" | tr -s ' ' | sed 's/^ //')" = "0 100000 65536" ]
  [ "${lines[1]}" = 0 ]
  [ "${lines[2]}" = "${lines[3]}" ]
  # A guest-root file of the image is nobody's in there.
  [ "$(runx exec --user 1000:1000 c1 stat -c %u /bin)" = 65534 ]
}

@test "create: a user namespace without uid and gid mappings is an error that leaves nothing" {
  make_bundle --set linux.namespaces='[{"type":"pid"},{"type":"mount"},{"type":"user"}]' -- true
  run runx create --bundle "$BUNDLE" c1 </dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"a user namespace needs linux.uidMappings"* ]]
  [ "$(echo "$output" | wc -l)" -eq 1 ]
  run runx state c1
  [ "$status" -ne 0 ]
}

@test "create with a terminal and a user namespace: the process's terminal is its own (owner uid as mapped)" {
  make_bundle --set process.terminal=true \
    --set linux.namespaces='[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}]' \
    --set linux.uidMappings='[{"containerID":0,"hostID":100000,"size":65536}]' \
    --set linux.gidMappings='[{"containerID":0,"hostID":100000,"size":65536}]' \
    --set process.user='{"uid":1000,"gid":1000}' -- sh -c 'echo owner:$(stat -c %u $(tty)); exit 4'
  sock="$BATS_TEST_TMPDIR/console.sock"
  RECEIVER "$sock" --timeout 60 >"$BATS_TEST_TMPDIR/console" &
  rcv=$!
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  runx create --bundle "$BUNDLE" --console-socket "$sock" c1 </dev/null
  runx start c1
  wait "$rcv"
  wait_status c1 stopped
  [ "$(record_field c1 exitStatus)" = 4 ]
  [[ "$(tr -d '\r' <"$BATS_TEST_TMPDIR/console")" == *"owner:1000"* ]]
}

