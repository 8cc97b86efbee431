# What the migration suites share: a free port, and waiting for a service's log line.

# free_port [HOST]: a TCP port free on HOST (default loopback) a moment ago
free_port() {
  node -e 'const s=require("net").createServer().listen(0,process.argv[1],()=>{console.log(s.address().port);s.close()})' "${1:-127.0.0.1}"
}

# wait_log FILE PATTERN [tries of 0.1 s, default 300]: until FILE has a line matching
# PATTERN; else its last lines on stderr, and failure
wait_log() {
  for _ in $(seq "${3:-300}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "no '$2' in $1:" >&2
  tail -n 20 "$1" >&2
  return 1
}

# start_serve ADDR [serve flags...]: `runx serve` for $DEST on ADDR in the background,
# with $SERVE_WRAP (words, e.g. "ip netns exec NS") before it; its pid in SERVE_PID,
# its stderr in $BATS_TEST_TMPDIR/serve.err; back once it listens (at most 10 s)
start_serve() {
  local addr="$1"; shift
  # shellcheck disable=SC2086 # SERVE_WRAP is words
  ${SERVE_WRAP:-} "$RUNX_BIN" --root "$DEST" serve --listen "$addr" --token-file "$BATS_TEST_TMPDIR/token" "$@" 2>"$BATS_TEST_TMPDIR/serve.err" &
  SERVE_PID=$!
  wait_log "$BATS_TEST_TMPDIR/serve.err" listening 100
}
