#!/usr/bin/env bash
# Opt-in (setup.sh runs it when RUNX_QEMU10=1): QEMU 10.0 from Debian's own
# bookworm-backports, installed system-wide in place of Debian 12's 7.2. Idempotent.
#
# The backports source is pinned at 100, below bookworm's 500, so nothing else ever
# comes from it by accident; only the packages named here are installed from it, with
# `-t bookworm-backports` for this one transaction: qemu-system-x86, and the packages
# of the same build it needs (qemu-system-common, qemu-system-data, qemu-utils) and a
# newer seabios, nothing else (apt-get -s, 2026-12-03). Once installed, the pin keeps
# them on backports' updates and a later setup.sh does not downgrade them.
#
# What it changes for runx on this host (README, "QEMU version"): runx's QEMU is then
# 10.0, so templates are rebuilt on first use (they are keyed by the QEMU build),
# checkpoints made under 7.2 are refused on restore and migrations with 7.2 hosts are
# refused (the QEMU build must match), as they would be between any two builds. VMs
# already running keep the binary they started with. To run both side by side instead,
# leave the host on 7.2 and point RUNX_QEMU at an unpacked 10.0 (see README).
#
# RUNX_APT_ETC (default /etc/apt) and APT_CONFIG let the source and pin go to another
# apt configuration; RUNX_APT_SIMULATE=1 makes the install an `apt-get -s` (for testing
# this script without changing the host).
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
etc="${RUNX_APT_ETC:-/etc/apt}"
suite=bookworm-backports
$SUDO mkdir -p "$etc/sources.list.d" "$etc/preferences.d"
# Debian's own mirror and archive key, as bookworm's own entries use.
$SUDO tee "$etc/sources.list.d/runx-$suite.sources" >/dev/null <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
$SUDO tee "$etc/preferences.d/runx-$suite" >/dev/null <<EOF
# runx (scripts/install-qemu10.sh): nothing comes from $suite unless asked for by name.
Package: *
Pin: release n=$suite
Pin-Priority: 100
EOF
$SUDO apt-get update -qq
simulate=()
[ "${RUNX_APT_SIMULATE:-}" = 1 ] && simulate=(-s)
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install "${simulate[@]}" -y -qq --no-install-recommends \
  -t "$suite" qemu-system-x86 qemu-utils
if [ ${#simulate[@]} -eq 0 ]; then
  version="$(qemu-system-x86_64 --version | head -1)"
  case "$version" in
    *"version 10."*) echo "QEMU from $suite: $version" >&2 ;;
    *) echo "install-qemu10: qemu-system-x86_64 is still \"$version\"" >&2; exit 1 ;;
  esac
fi
