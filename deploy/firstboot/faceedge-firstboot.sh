#!/usr/bin/env bash
# First boot of a freshly flashed card: installs faceedge from the release tarball that
# prepare-bootfs.sh put next to this script on the boot partition, with the config.yaml found there.
# Run by cloud-init's runcmd (Ubuntu, Raspberry Pi OS from Trixie) or by the faceedge-firstboot.service
# that firstrun.sh installs (Raspberry Pi OS Bookworm); both run it once the network is up.
#
#   faceedge-firstboot.sh [--release <tarball>] [--root <dir>] [-- <install.sh options>]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RELEASE=""
ROOT=""
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --release) RELEASE=${2:?--release needs a tarball}; shift 2 ;;
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "faceedge-firstboot: unknown option $1" >&2; exit 2 ;;
  esac
done

DONE="$ROOT/var/lib/faceedge/.firstboot-done"
if [ -e "$DONE" ]; then
  echo "faceedge-firstboot: already done ($DONE)"
  exit 0
fi

if [ -z "$RELEASE" ]; then
  # The newest release on the boot partition (version-sorted file names).
  RELEASE=$(find "$HERE" -maxdepth 1 -name 'faceedge-*.tar.gz' -printf '%f\n' | sort -V | tail -n1)
  [ -n "$RELEASE" ] || { echo "faceedge-firstboot: no faceedge-*.tar.gz in $HERE" >&2; exit 1; }
  RELEASE="$HERE/$RELEASE"
fi

# The operator's config goes in first: install.sh keeps an existing /etc/faceedge/config.yaml.
if [ -f "$HERE/config.yaml" ] && [ ! -e "$ROOT/etc/faceedge/config.yaml" ]; then
  install -d -m 0755 "$ROOT/etc/faceedge"
  install -m 0640 "$HERE/config.yaml" "$ROOT/etc/faceedge/config.yaml"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Only the installer is needed from the tarball; install.sh unpacks the release itself.
tar -xzf "$RELEASE" -C "$WORK" --wildcards '*deploy/*'
INSTALLER=$(find "$WORK" -path '*/deploy/install.sh' | head -n1)
[ -n "$INSTALLER" ] || { echo "faceedge-firstboot: $RELEASE has no deploy/install.sh" >&2; exit 1; }

ARGS=(--from "$RELEASE")
if [ -n "$ROOT" ]; then ARGS+=(--root "$ROOT"); else ARGS+=(--install-node); fi
bash "$INSTALLER" "${ARGS[@]}" "${EXTRA[@]}"

# The config was copied before the faceedge group existed: let the service read it now.
GID=$(awk -F: '$1 == "faceedge" { print $3; exit }' "$ROOT/etc/group" 2>/dev/null || true)
if [ "$(id -u)" -eq 0 ] && [ -n "$GID" ]; then chgrp "$GID" "$ROOT/etc/faceedge/config.yaml"; fi
mkdir -p "$(dirname "$DONE")"
date -u +%FT%TZ >"$DONE"
echo "faceedge-firstboot: done"
