#!/usr/bin/env bash
# System packages faceedge needs on a Debian/Ubuntu/Raspberry Pi OS host (run as root or with sudo):
#   ffmpeg              video files, V4L2 and RTSP cameras
#   mosquitto(-clients) the broker used by the integration tests and real deployments
#   python3-torch …     the training package's tests (CPU PyTorch from Debian)
#   python3-jinja2      renders the Home Assistant discovery templates in the unit tests (HA's engine)
#   systemd, cloud-init the unit and first-boot file checks
#   qemu-user-static, libc6:arm64, libstdc++6:arm64 (x86-64 hosts only)
#                       npm run test:arm64: the arm64 build run under QEMU user-mode emulation
# Node.js >= 20 and npm must already be installed.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then exec sudo "$0" "$@"; fi
export DEBIAN_FRONTEND=noninteractive
arm64_packages=()
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  # Multiarch: the arm64 C/C++ runtime beside the native one, for the arm64 Node under qemu-aarch64-static.
  dpkg --add-architecture arm64
  arm64_packages=(qemu-user-static libc6:arm64 libstdc++6:arm64)
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ffmpeg mosquitto mosquitto-clients \
  python3 python3-torch python3-numpy python3-pil python3-pytest python3-matplotlib python3-jinja2 \
  systemd cloud-init shellcheck openssl \
  "${arm64_packages[@]}" \
  >/dev/null
node -e 'const [maj] = process.versions.node.split(".").map(Number); if (maj < 20) { console.error(`Node ${process.versions.node} is too old: faceedge needs >= 20`); process.exit(1); }'
echo "system dependencies installed"
