# The runx every suite drives: $RUNX_BIN if set, else the one-file binary the build
# makes (dist/runx), else bin/runx where this node cannot make one
# (scripts/build-sea.js says why). Needs $REPO.
if [ -z "${RUNX_BIN:-}" ]; then
  if [ -x "$REPO/dist/runx" ]; then RUNX_BIN="$REPO/dist/runx"; else RUNX_BIN="$REPO/bin/runx"; fi
fi
