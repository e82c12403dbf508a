#!/bin/bash
# Raspberry Pi OS Bookworm first-boot hook (images before the Trixie release have no cloud-init).
# prepare-bootfs.sh copies this to <boot partition>/faceedge/ and starts it from cmdline.txt with
#   systemd.run=<this script> systemd.run_success_action=reboot systemd.unit=kernel-command-line.target
# (the mechanism Raspberry Pi Imager's own firstrun.sh uses), or calls it from Imager's firstrun.sh.
# It runs before the network is up, so it only schedules faceedge-firstboot.service for the next
# boot, removes its cmdline.txt entry, and lets systemd reboot.
#
#   firstrun.sh [--root <dir>]     (--root: act on a mounted image tree, for image building and tests)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=""
if [ "${1:-}" = "--root" ]; then ROOT=${2:?--root needs a directory}; fi
BOOT=$(dirname "$HERE")

# The path the script will have on the running system (the boot partition is /boot/firmware on Bookworm).
RUN_DIR=${FACEEDGE_FIRSTBOOT_DIR:-/boot/firmware/faceedge}

mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
cat >"$ROOT/etc/systemd/system/faceedge-firstboot.service" <<UNIT
[Unit]
Description=Install faceedge from the boot partition (first boot)
Wants=network-online.target
After=network-online.target time-sync.target
ConditionPathExists=!/var/lib/faceedge/.firstboot-done

[Service]
Type=oneshot
ExecStart=/bin/bash $RUN_DIR/faceedge-firstboot.sh
ExecStartPost=/bin/systemctl disable faceedge-firstboot.service
TimeoutStartSec=30min

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/faceedge-firstboot.service "$ROOT/etc/systemd/system/multi-user.target.wants/faceedge-firstboot.service"

# Our own cmdline.txt entry (when we were started from it) must not run again.
if [ -f "$BOOT/cmdline.txt" ] && grep -q "systemd.run=[^ ]*/faceedge/firstrun.sh" "$BOOT/cmdline.txt"; then
  sed -i -E 's# ?systemd\.run=[^ ]*/faceedge/firstrun\.sh( systemd\.run_success_action=[^ ]*)?( systemd\.unit=kernel-command-line\.target)?##' "$BOOT/cmdline.txt"
fi
exit 0
