#!/usr/bin/env bash
# Installs (or upgrades, or removes) faceedge on Raspberry Pi OS Bookworm (arm64), Ubuntu and JetPack 6.
# Idempotent: running it twice leaves the same tree, and an existing /etc/faceedge/config.yaml is kept.
#
#   sudo deploy/install.sh                       # from a built checkout (npm run build first)
#   sudo deploy/install.sh --from faceedge-0.2.0.tar.gz
#   sudo deploy/install.sh --uninstall [--purge]
#   deploy/install.sh --root /tmp/img --skip-npm  # into a directory tree (image building, tests)
#
# Layout (all below --root, default /):
#   /opt/faceedge/releases/<version>/   one folder per release (bin/ dist/ models/ node_modules/ …)
#   /opt/faceedge/current -> releases/<version>   switched by an atomic rename
#   /usr/local/bin/faceedge -> /opt/faceedge/current/bin/faceedge.js
#   /etc/faceedge/config.yaml           written from deploy/config.example.yaml only when absent
#   /etc/systemd/system/faceedge.service, /etc/sysusers.d/faceedge.conf, /etc/udev/rules.d/60-faceedge-gpio.rules
#   /var/lib/faceedge                   state (event outbox, pushed models), owned by the faceedge user
set -euo pipefail
umask 022

usage() {
  cat <<'EOF'
usage: install.sh [options]
  --from <dir|tarball>  release to install: a built checkout (has dist/) or a release .tar.gz
                        (default: the checkout this script lives in)
  --root <dir>          install below <dir> instead of / (never touches the running system:
                        no systemctl start, no udev reload)
  --no-start            enable the unit but do not (re)start it
  --no-enable           neither enable nor start the unit
  --skip-npm            do not run `npm ci --omit=dev` in the release (node_modules provided elsewhere)
  --skip-node-check     do not require Node.js >= 20 on this machine (building an image for
                        another machine)
  --install-node        install Node.js >= 20 with apt first (distribution package when new enough,
                        else the NodeSource repository) — used by the first-boot script
  --force               reinstall a release folder that already exists
  --keep <n>            releases to keep besides the current one (default 2)
  --uninstall           stop and remove faceedge; keeps /etc/faceedge and /var/lib/faceedge
  --purge               with --uninstall: also remove the configuration and the state
  -h, --help            this text
EOF
}

die() { echo "install.sh: $*" >&2; exit 1; }
log() { echo "faceedge-install: $*"; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FROM=$(dirname "$SCRIPT_DIR")
ROOT=""
START=yes
ENABLE=yes
NPM=yes
NODE_CHECK=yes
INSTALL_NODE=no
FORCE=no
KEEP=2
ACTION=install
PURGE=no

while [ $# -gt 0 ]; do
  case "$1" in
    --from) FROM=${2:?--from needs a path}; shift 2 ;;
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --no-start) START=no; shift ;;
    --no-enable) ENABLE=no; START=no; shift ;;
    --skip-npm) NPM=no; shift ;;
    --skip-node-check) NODE_CHECK=no; shift ;;
    --install-node) INSTALL_NODE=yes; shift ;;
    --force) FORCE=yes; shift ;;
    --keep) KEEP=${2:?--keep needs a number}; shift 2 ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=yes; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
case "$KEEP" in ''|*[!0-9]*) die "--keep wants a number, got '$KEEP'" ;; esac
[ "$PURGE" = no ] || [ "$ACTION" = uninstall ] || die "--purge only goes with --uninstall"

if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  # A tree being assembled is not the running system: never start anything in it.
  START=no
else
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo), or pass --root <dir> to install into a directory"
fi

OPT="$ROOT/opt/faceedge"
ETC="$ROOT/etc/faceedge"
UNIT="$ROOT/etc/systemd/system/faceedge.service"
SYSUSERS="$ROOT/etc/sysusers.d/faceedge.conf"
UDEV_RULE="$ROOT/etc/udev/rules.d/60-faceedge-gpio.rules"
BIN_LINK="$ROOT/usr/local/bin/faceedge"
STATE="$ROOT/var/lib/faceedge"

# systemctl against the running manager, or against the tree with --root (no manager needed).
sctl() {
  if [ -n "$ROOT" ]; then
    if command -v systemctl >/dev/null; then systemctl --root="$ROOT" "$@"; fi
  elif [ -d /run/systemd/system ]; then
    systemctl "$@"
  else
    log "systemd is not running here; skipped: systemctl $*"
  fi
}

# Copies $1 to $2 only when the content differs; returns 0 when it changed the file.
install_if_changed() {
  local src=$1 dst=$2 mode=$3
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then return 1; fi
  mkdir -p "$(dirname "$dst")"
  install -m "$mode" "$src" "$dst.faceedge-new"
  mv -f "$dst.faceedge-new" "$dst"
  return 0
}

describe_platform() {
  local os=unknown
  if [ -r "$ROOT/etc/os-release" ]; then os=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/etc/os-release"); fi
  if [ -r "$ROOT/etc/nv_tegra_release" ]; then os="$os (NVIDIA JetPack/L4T)"; fi
  if [ -z "$ROOT" ] && [ -r /proc/device-tree/model ]; then os="$os on $(tr -d '\0' </proc/device-tree/model)"; fi
  log "platform: $os, $(uname -m)"
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

install_node() {
  if command -v node >/dev/null && [ "$(node_major)" -ge 20 ]; then return; fi
  command -v apt-get >/dev/null || die "--install-node needs apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  local candidate
  candidate=$(apt-cache policy nodejs | awk '/Candidate:/ {print $2}' | sed -E 's/^[0-9]+://; s/[^0-9].*//')
  if [ -n "$candidate" ] && [ "$candidate" -ge 20 ] 2>/dev/null; then
    log "installing Node.js $candidate from the distribution"
    apt-get install -y -qq nodejs npm
  else
    # Raspberry Pi OS Bookworm ships 18, Ubuntu 22.04/JetPack 6 ship 12: use NodeSource's 22.x.
    log "installing Node.js 22 from deb.nodesource.com"
    apt-get install -y -qq ca-certificates curl gnupg
    install -d -m 0755 /etc/apt/keyrings
    curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
    echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_22.x nodistro main" >/etc/apt/sources.list.d/nodesource.list
    apt-get update -qq
    apt-get install -y -qq nodejs
  fi
}

check_node() {
  command -v node >/dev/null || die "Node.js is not installed; faceedge needs >= 20 (rerun with --install-node)"
  local major
  major=$(node_major)
  [ "$major" -ge 20 ] || die "Node.js $(node --version) is too old; faceedge needs >= 20 (rerun with --install-node)"
}

# The release source as a directory: a checkout as is, a tarball unpacked to a temp dir.
WORK=""
cleanup() { if [ -n "$WORK" ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

release_dir() {
  if [ -d "$FROM" ]; then
    SRC=$(cd "$FROM" && pwd)
    SRC_IS_TARBALL=no
  elif [ -f "$FROM" ]; then
    WORK=$(mktemp -d)
    tar -xzf "$FROM" -C "$WORK"
    # Accept both a flat tarball and one with a single top-level folder.
    if [ -f "$WORK/package.json" ]; then SRC=$WORK; else SRC=$(find "$WORK" -mindepth 2 -maxdepth 2 -name package.json -printf '%h\n' | head -n1); fi
    [ -n "$SRC" ] || die "$FROM does not contain a faceedge release (no package.json)"
    SRC_IS_TARBALL=yes
  else
    die "--from $FROM: no such file or directory"
  fi
  { [ -f "$SRC/package.json" ] && [ -f "$SRC/bin/faceedge.js" ]; } || die "$SRC is not a faceedge release (package.json, bin/faceedge.js)"
  [ -f "$SRC/dist/src/cli/main.js" ] || die "$SRC has no dist/ build: run npm run build first (a release runs the compiled JavaScript, not tsx)"
  [ -f "$SRC/systemd/faceedge.service" ] || die "$SRC has no systemd/faceedge.service"
  # No JSON parser is assumed (image builds may run without node): package.json has one "version" key.
  VERSION=$(grep -o '"version"[[:space:]]*:[[:space:]]*"[^"]*"' "$SRC/package.json" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
  case "$VERSION" in ''|*/*|.*) die "cannot read a usable version from $SRC/package.json" ;; esac
}

copy_release() {
  local dest="$OPT/releases/$VERSION" stage="$OPT/releases/.$VERSION.partial"
  if [ -d "$dest" ] && [ "$FORCE" = no ]; then
    log "release $VERSION is already installed (--force reinstalls it)"
    return
  fi
  rm -rf "$stage"
  mkdir -p "$stage"
  local item
  for item in bin dist models web systemd deploy package.json package-lock.json README.md LICENSE; do
    if [ -e "$SRC/$item" ]; then cp -a "$SRC/$item" "$stage/"; fi
  done
  # A release tarball may carry node_modules built for the target (offline installs); a checkout's
  # node_modules holds dev tools and host-built binaries, so it is reinstalled from the lock file.
  if [ "$SRC_IS_TARBALL" = yes ] && [ -d "$SRC/node_modules" ]; then
    cp -a "$SRC/node_modules" "$stage/"
  elif [ "$NPM" = yes ]; then
    log "npm ci --omit=dev in release $VERSION"
    (cd "$stage" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
  fi
  chmod -R u=rwX,go=rX "$stage"
  if [ -d "$dest" ]; then
    # --force: swap the folders so `current` never points at a half-copied release.
    mv "$dest" "$OPT/releases/.$VERSION.old"
    mv "$stage" "$dest"
    rm -rf "$OPT/releases/.$VERSION.old"
  else
    mv "$stage" "$dest"
  fi
  log "installed release $VERSION"
}

switch_current() {
  local target="releases/$VERSION" previous=""
  if [ -L "$OPT/current" ]; then previous=$(readlink "$OPT/current"); fi
  if [ "$previous" = "$target" ]; then return 1; fi
  # rename(2) over the old link: readers see the old or the new release, never neither.
  ln -sfn "$target" "$OPT/current.new"
  mv -Tf "$OPT/current.new" "$OPT/current"
  log "current -> $target${previous:+ (was $previous)}"
  return 0
}

prune_releases() {
  local keep=$KEEP dir name
  # Newest first by modification time; the current release is never removed.
  while IFS= read -r dir; do
    name=$(basename "$dir")
    [ "releases/$name" = "$(readlink "$OPT/current")" ] && continue
    if [ "$keep" -gt 0 ]; then keep=$((keep - 1)); continue; fi
    rm -rf "$dir"
    log "removed old release $name"
  done < <(find "$OPT/releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)
}

create_user() {
  install_if_changed "$SCRIPT_DIR/sysusers.d/faceedge.conf" "$SYSUSERS" 0644 || true
  if command -v systemd-sysusers >/dev/null; then
    if [ -n "$ROOT" ]; then systemd-sysusers --root="$ROOT" "$SYSUSERS" >/dev/null
    else systemd-sysusers "$SYSUSERS" >/dev/null; fi
  elif [ -z "$ROOT" ]; then
    getent group gpio >/dev/null || groupadd --system gpio
    id faceedge >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/faceedge --shell /usr/sbin/nologin faceedge
    usermod -a -G video,gpio faceedge
  else
    die "--root needs systemd-sysusers to create the faceedge user in the tree"
  fi
}

# uid/gid from the tree's own passwd/group, so --root never consults the host's user database.
id_in_root() { awk -F: -v n="$2" '$1 == n { print $3; exit }' "$ROOT/etc/$1"; }

owned_by_service() {
  local path=$1 uid gid
  [ "$(id -u)" -eq 0 ] || return 0
  uid=$(id_in_root passwd faceedge)
  gid=$(id_in_root group faceedge)
  { [ -n "$uid" ] && [ -n "$gid" ]; } || die "user faceedge is missing from $ROOT/etc/passwd"
  chown "${2:-$uid}:$gid" "$path"
}

install_config() {
  install -d -m 0755 "$ETC"
  if [ -e "$ETC/config.yaml" ]; then
    log "keeping $ETC/config.yaml"
  else
    install -m 0640 "$SCRIPT_DIR/config.example.yaml" "$ETC/config.yaml"
    # root owns it, the service group may read it (it can hold MQTT credentials).
    owned_by_service "$ETC/config.yaml" 0
    log "wrote $ETC/config.yaml (edit it, then: systemctl restart faceedge)"
  fi
}

install_state() {
  install -d -m 0700 "$STATE" "$STATE/models"
  owned_by_service "$STATE"
  owned_by_service "$STATE/models"
}

do_install() {
  describe_platform
  if [ "$INSTALL_NODE" = yes ]; then install_node; fi
  if [ "$NODE_CHECK" = yes ]; then check_node; fi
  release_dir
  mkdir -p "$OPT/releases"
  copy_release
  local switched=no unit_changed=no
  if switch_current; then switched=yes; fi
  prune_releases
  create_user
  install_config
  install_state
  if install_if_changed "$SRC/systemd/faceedge.service" "$UNIT" 0644; then unit_changed=yes; fi
  if install_if_changed "$SCRIPT_DIR/udev/60-faceedge-gpio.rules" "$UDEV_RULE" 0644 && [ -z "$ROOT" ]; then
    # Applies the group to gpiochips present now; boards without udevd simply get it next boot.
    if udevadm control --reload 2>/dev/null; then udevadm trigger --subsystem-match=gpio 2>/dev/null || true; fi
  fi
  mkdir -p "$(dirname "$BIN_LINK")"
  ln -sfn /opt/faceedge/current/bin/faceedge.js "$BIN_LINK.new"
  mv -Tf "$BIN_LINK.new" "$BIN_LINK"
  if [ -z "$ROOT" ] && [ "$unit_changed" = yes ]; then sctl daemon-reload; fi
  if [ "$ENABLE" = yes ]; then sctl enable faceedge.service; fi
  if [ "$START" = yes ]; then
    if [ "$switched" = yes ] || [ "$unit_changed" = yes ]; then sctl restart faceedge.service; else sctl start faceedge.service; fi
  fi
  log "faceedge $VERSION installed${ROOT:+ in $ROOT}"
}

do_uninstall() {
  if [ -e "$UNIT" ]; then
    if [ -z "$ROOT" ]; then sctl disable --now faceedge.service || true; else sctl disable faceedge.service >/dev/null 2>&1 || true; fi
  fi
  # systemctl --root may be absent: remove the enablement link ourselves too.
  rm -f "$ROOT/etc/systemd/system/multi-user.target.wants/faceedge.service"
  rm -f "$UNIT" "$UDEV_RULE" "$BIN_LINK"
  rm -rf "$OPT"
  if [ -z "$ROOT" ]; then sctl daemon-reload; fi
  if [ "$PURGE" = yes ]; then
    rm -rf "$ETC" "$STATE"
    rm -f "$SYSUSERS"
    log "removed configuration and state"
  else
    log "kept $ETC and $STATE (--purge removes them)"
  fi
  # The faceedge user stays: files elsewhere may still carry its uid, and a later user could inherit it.
  log "faceedge uninstalled${ROOT:+ from $ROOT}"
}

if [ "$ACTION" = uninstall ]; then do_uninstall; else do_install; fi
