#!/usr/bin/env bats
# keeper.sock against a real keeper and VM: ping's versions, a request of another
# protocol refused before anything happens, and refusals by the keeper's phase that
# reach the CLI as one line with the keeper's code.

load helpers

keeper_line() { # id json-line: the keeper's reply line
  node "$REPO/test/helpers/keeper-line.mjs" "$ROOT/$1/keeper.sock" "$2"
}

@test "keeper.sock: ping gives the protocol and runx version; another protocol is refused and changes nothing" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  runx start c1
  version="$(node -p 'require(process.argv[1]).version' "$REPO/package.json")"
  reply="$(keeper_line c1 '{"op":"ping","protocol":1}')"
  [ "$reply" = "{\"ok\":true,\"protocol\":1,\"result\":{\"protocol\":1,\"runx\":\"$version\"}}" ] || { echo "$reply" >&2; false; }
  reply="$(keeper_line c1 '{"op":"pause","protocol":2}')"
  echo "$reply" | grep -q '"code":"EPROTO","error":"keeper speaks protocol 1, this runx speaks 2: ' || { echo "$reply" >&2; false; }
  reply="$(keeper_line c1 '{"op":"pause"}')"
  echo "$reply" | grep -q '"code":"EPROTO".*this runx speaks 0' || { echo "$reply" >&2; false; }
  # neither paused it
  [ "$(state_field c1 status)" = running ]
  reply="$(keeper_line c1 '{"op":"kill","protocol":1,"signal":"TERM","all":false}')"
  [ "$reply" = '{"ok":false,"protocol":1,"code":"EUSAGE","error":"malformed keeper request: kill.signal is not a uint"}' ] || { echo "$reply" >&2; false; }
  [ "$(state_field c1 status)" = running ]
}

@test "keeper.sock: what the phase does not serve is refused in one line with the keeper's code" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  runx start c1
  run -1 runx migrate --cancel c1
  [ "$output" = "runx: no migration of the container is in progress" ]
  reply="$(keeper_line c1 '{"op":"take-back","protocol":1,"incoming":{"host":"127.0.0.1","nbdPort":1,"migratePort":2}}')"
  [ "$reply" = '{"ok":false,"protocol":1,"code":"ESTATE","error":"this keeper is not a stand-in"}' ] || { echo "$reply" >&2; false; }
  runx pause c1
  reply="$(keeper_line c1 '{"op":"ps","protocol":1}')"
  [ "$reply" = '{"ok":false,"protocol":1,"code":"ESTATE","error":"cannot list the processes of a paused container: its VM is stopped"}' ] || { echo "$reply" >&2; false; }
  runx resume c1
  [ "$(state_field c1 status)" = running ]
  reply="$(keeper_line c1 '{"op":"ps","protocol":1}')"
  echo "$reply" | grep -Eq '^\{"ok":true,"protocol":1,"result":\["[0-9]+:[0-9]+:0:' || { echo "$reply" >&2; false; }
}
