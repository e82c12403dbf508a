#!/usr/bin/env bash
# Prepares a freshly flashed card (its boot partition mounted at <bootfs>) to come up running
# faceedge. Copies the release, config and first-boot scripts to <bootfs>/faceedge/ and hooks them
# into whichever first-boot mechanism the image has:
#   cloud-init (Ubuntu, Raspberry Pi OS Trixie+): a runcmd entry in <bootfs>/user-data
#   Raspberry Pi OS Bookworm, customised by Imager: a call inside Imager's firstrun.sh
#   Raspberry Pi OS Bookworm, plain: our firstrun.sh on the kernel command line
#
#   prepare-bootfs.sh <bootfs> <faceedge-<version>.tar.gz> [config.yaml]
set -euo pipefail

die() { echo "prepare-bootfs: $*" >&2; exit 1; }
{ [ $# -ge 2 ] && [ $# -le 3 ]; } || die "usage: prepare-bootfs.sh <bootfs> <release.tar.gz> [config.yaml]"
BOOT=$1
RELEASE=$2
CONFIG=${3:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -d "$BOOT" ] || die "$BOOT is not a directory (mount the card's boot partition)"
[ -f "$BOOT/cmdline.txt" ] || [ -f "$BOOT/user-data" ] || die "$BOOT has neither cmdline.txt nor user-data: not a boot partition?"
[ -f "$RELEASE" ] || die "no release tarball $RELEASE"
case "$(basename "$RELEASE")" in faceedge-*.tar.gz) ;; *) die "release tarball must be named faceedge-<version>.tar.gz" ;; esac
[ -z "$CONFIG" ] || [ -f "$CONFIG" ] || die "no config file $CONFIG"

# The path of the folder on the running system (both Ubuntu and Raspberry Pi OS mount it there).
RUN_DIR=/boot/firmware/faceedge
DEST="$BOOT/faceedge"
mkdir -p "$DEST"
cp "$RELEASE" "$DEST/"
cp "$HERE/faceedge-firstboot.sh" "$HERE/firstrun.sh" "$DEST/"
if [ -n "$CONFIG" ]; then cp "$CONFIG" "$DEST/config.yaml"; fi

if [ -f "$BOOT/user-data" ]; then
  if grep -q 'faceedge-firstboot.sh' "$BOOT/user-data"; then
    echo "prepare-bootfs: user-data already runs faceedge-firstboot.sh"
  elif grep -q '^runcmd:' "$BOOT/user-data"; then
    # Appending a second top-level runcmd would replace the first; a YAML edit is the operator's call.
    die "$BOOT/user-data already has a runcmd: list; add this entry to it: - [bash, $RUN_DIR/faceedge-firstboot.sh]"
  else
    printf '\n# faceedge first boot (added by prepare-bootfs.sh)\nruncmd:\n  - [bash, %s/faceedge-firstboot.sh]\n' "$RUN_DIR" >>"$BOOT/user-data"
    echo "prepare-bootfs: added a runcmd entry to $BOOT/user-data"
  fi
  exit 0
fi

CMDLINE=$(tr -d '\n' <"$BOOT/cmdline.txt")
if grep -q 'faceedge/firstrun.sh' <<<"$CMDLINE"; then
  echo "prepare-bootfs: cmdline.txt already starts faceedge's firstrun.sh"
elif IMAGER=$(grep -o 'systemd\.run=[^ ]*' <<<"$CMDLINE" | head -n1 | cut -d= -f2) && [ -n "$IMAGER" ]; then
  # Imager already owns the systemd.run hook: ride along inside its script, before it deletes itself.
  SCRIPT="$BOOT/$(basename "$IMAGER")"
  [ -f "$SCRIPT" ] || die "cmdline.txt runs $IMAGER but $SCRIPT is missing"
  if ! grep -q 'faceedge/firstrun.sh' "$SCRIPT"; then
    grep -q "^rm -f $IMAGER" "$SCRIPT" || die "$SCRIPT has no 'rm -f $IMAGER' line to insert faceedge's call before"
    sed -i "\#^rm -f $IMAGER#i bash $RUN_DIR/firstrun.sh" "$SCRIPT"
  fi
  echo "prepare-bootfs: $SCRIPT now runs faceedge's firstrun.sh"
else
  printf '%s systemd.run=%s/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n' "$CMDLINE" "$RUN_DIR" >"$BOOT/cmdline.txt"
  echo "prepare-bootfs: cmdline.txt runs faceedge's firstrun.sh on first boot"
fi
