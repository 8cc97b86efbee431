#!/usr/bin/env bash
# Sets up everything runx needs on a Debian 12 machine, idempotently:
# Debian packages, npm dependencies, the TypeScript build, the guest kernel and the
# guest agent's initramfs (both cached outside the repo, keyed by their inputs), and
# `runx` on the PATH. Needs root (apt-get, /usr/local) and no network but Debian's
# mirrors and the npm registry.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
say() { printf '\n== %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

PACKAGES=(
  qemu-system-x86 qemu-utils        # the VM
  linux-source-6.1 bc bison flex libelf-dev libssl-dev lz4 xz-utils cpio make gcc  # guest kernel
  musl-tools                         # the static guest agent
  busybox-static e2fsprogs util-linux iproute2   # bundles, root disks, setpriv
  bats runc crun hyperfine containerd docker.io criu   # tests and side-by-side benchmarks
  podman conmon containernetworking-plugins             # test/podman (podman 4.3, its CNI bridge)
  etcd-server etcd-client            # the spot daemon's shared peer registry (and its e2e test)
  git ca-certificates curl
)
say "Debian packages"
$SUDO apt-get update -qq
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
if [ "${RUNX_QEMU10:-}" = 1 ]; then
  # Opt-in: QEMU 10.0 from Debian's bookworm-backports in place of 7.2, system-wide
  # (the script says what that changes). The default stays Debian 12's 7.2 (README,
  # "QEMU 7.2 or 10.0").
  say "QEMU 10.0 from bookworm-backports (RUNX_QEMU10=1)"
  bash scripts/install-qemu10.sh
fi

say "npm ci"
npm ci --no-audit --no-fund --loglevel=error

say "build (tsc, then the one-file binary dist/runx)"
npm run --silent build

say "guest kernel (cached; a fresh build takes ~5-7 min)"
kernel="$(guest-kernel/build-kernel.sh)"
say "guest agent and initramfs (cached)"
initramfs="$(guest-kernel/build-initramfs.sh)"

assets=/usr/local/lib/runx
$SUDO mkdir -p "$assets"
$SUDO install -m 0644 "$kernel" "$assets/bzImage"
$SUDO install -m 0644 "$initramfs" "$assets/initramfs.cpio"
if [ -x dist/runx ]; then
  # A rename, not a copy over the old file: running keepers execute it, and the old
  # /usr/local/bin/runx may be a link into a checkout.
  $SUDO install -m 0755 dist/runx /usr/local/bin/.runx.new
  $SUDO mv -f /usr/local/bin/.runx.new /usr/local/bin/runx
else
  $SUDO ln -sfn "$repo/bin/runx" /usr/local/bin/runx
fi
say "ready: $(runx --version | head -1) (kernel $kernel, initramfs $initramfs)"
