# Shared by the libgpiod stand-ins (gpiodetect, gpioget, gpioset, gpiomon): GPIO chips emulated as
# files, modelled on the kernel's gpio-sim, so that tests drive faceedge through real processes that
# take the real v1 or v2 command syntax. Sourced, not run.
#
#   FACEEDGE_GPIO_SIM              directory of the emulated chips (required)
#   FACEEDGE_GPIO_SIM_VERSION      libgpiod version imitated: 1.x (v1 syntax) or 2.x (v2); default 2.1.3
#   FACEEDGE_GPIO_SIM_INTERACTIVE  0 imitates a v2 gpioset built without libedit (no -i); default 1
#   FACEEDGE_GPIO_SIM_GET_HOLD_S   seconds gpioget keeps the line requested after reading it, as a slow,
#                                  loaded board's may (tests of who waits for the line to be free); default 0
#
# Layout under $FACEEDGE_GPIO_SIM:
#   release                    what a released output line does: keep (drives its last value on, as the
#                              Raspberry Pi pinctrl drivers do by default) or pull (reverts to its pull
#                              level, as gpio-sim does); default keep
#   chips/<name>/label, ngpio  one directory per chip (name: gpiochipN)
#   chips/<name>/lines/<offset>/
#     holder     pid of the process that has requested the line (a dead pid means released)
#     consumer   its consumer label
#     direction  input | output
#     value      physical level last driven by an output (0/1)
#     pull       level the outside world puts on the line when nothing drives it (0/1, default 0)
#     edges      appended by tests when the outside level changes: "<ns since epoch> <level>"
#     log        appended on every drive and release: "<epoch s.us> <level|release> <pid> <program>"

prog=${0##*/}
SIM=${FACEEDGE_GPIO_SIM:?FACEEDGE_GPIO_SIM must name the emulated GPIO directory}
SIM_VERSION=${FACEEDGE_GPIO_SIM_VERSION:-2.1.3}
SIM_MAJOR=${SIM_VERSION%%.*}

die() {
  printf '%s: %s\n' "$prog" "$*" >&2
  exit 1
}

print_version() {
  printf '%s (libgpiod) v%s\n' "$prog" "$SIM_VERSION"
  if [ "$SIM_MAJOR" = 1 ]; then
    printf 'Copyright (C) 2017-2018 Bartosz Golaszewski\nLicense: LGPLv2.1\n'
  else
    printf 'Copyright (C) 2017-2023 Bartosz Golaszewski\nLicense: GPL-2.0-or-later\n'
  fi
  printf 'This is free software: you are free to change and redistribute it.\n'
  printf 'There is NO WARRANTY, to the extent permitted by law.\n'
}

# True when pid $1 is a live process (a zombie nobody reaped yet counts as dead: its fds are closed).
pid_alive() {
  local state
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  read -r _ _ state _ < "/proc/$1/stat" 2>/dev/null || return 1
  [ "$state" != Z ]
}

# Finds chip $1 and sets CHIP, CHIPDIR and NGPIO. v1 accepts a number, name, /dev path or label; v2 a
# number, name or path only (labels are what gpiodetect is for).
find_chip() {
  local id=$1 dir label
  case $id in '' | *[!0-9]*) ;; *) id=gpiochip$id ;; esac
  id=${id#/dev/}
  if [ -n "$id" ] && [ -d "$SIM/chips/$id" ]; then
    CHIP=$id
  elif [ "$SIM_MAJOR" = 1 ]; then
    CHIP=
    for dir in "$SIM"/chips/*; do
      [ -f "$dir/label" ] || continue
      read -r label < "$dir/label"
      if [ "$label" = "$1" ]; then CHIP=${dir##*/}; break; fi
    done
    [ -n "$CHIP" ] || return 1
  else
    return 1
  fi
  CHIPDIR=$SIM/chips/$CHIP
  read -r NGPIO < "$CHIPDIR/ngpio"
}

# The physical level of line $1 of CHIPDIR as the outside world sees it.
line_level() {
  local d=$CHIPDIR/lines/$1 holder= direction= value= pull=0 policy=keep
  [ -f "$d/pull" ] && read -r pull < "$d/pull"
  [ -f "$d/direction" ] && read -r direction < "$d/direction"
  [ -f "$d/value" ] && read -r value < "$d/value"
  [ -f "$d/holder" ] && read -r holder < "$d/holder"
  [ -f "$SIM/release" ] && read -r policy < "$SIM/release"
  if [ "$direction" = output ] && [ -n "$value" ]; then
    if pid_alive "$holder" || [ "$policy" = keep ]; then
      echo "$value"
      return
    fi
  fi
  echo "$pull"
}

# Requests line $1 for this process with direction $2 and, for an output, initial logical value $3;
# returns 1 (EBUSY) while another live process holds it. As in the kernel, an output request carries its
# value: the level is on the line before the line shows as used.
REQUESTED=()
request_line() {
  local d=$CHIPDIR/lines/$1 holder=
  mkdir -p "$d"
  [ -f "$d/holder" ] && read -r holder < "$d/holder"
  if [ -n "$holder" ] && [ "$holder" != $$ ] && pid_alive "$holder"; then return 1; fi
  echo "$2" > "$d/direction"
  [ $# -ge 3 ] && drive_line "$1" "$3"
  echo "${CONSUMER:-$prog}" > "$d/consumer"
  echo $$ > "$d/holder"
  REQUESTED+=("$1")
}

# Drives requested output line $1 to logical value $2 (active-low applied when ACTIVE_LOW=1).
drive_line() {
  local d=$CHIPDIR/lines/$1 level=$2
  [ "${ACTIVE_LOW:-0}" = 1 ] && level=$((1 - level))
  # Readers must never see a half-written file: write aside, then rename.
  echo "$level" > "$d/value.$$"
  mv -f "$d/value.$$" "$d/value"
  printf '%s %s %s %s\n' "$EPOCHREALTIME" "$level" $$ "$prog" >> "$d/log"
}

# Releases every line this process requested (the kernel does this when the holder's fd closes).
release_lines() {
  local off d holder
  for off in "${REQUESTED[@]}"; do
    d=$CHIPDIR/lines/$off
    holder=
    [ -f "$d/holder" ] && read -r holder < "$d/holder"
    if [ "$holder" = $$ ]; then
      rm -f "$d/holder"
      printf '%s release %s %s\n' "$EPOCHREALTIME" $$ "$prog" >> "$d/log"
    fi
  done
  REQUESTED=()
}

# An fd to block on without forking: a FIFO opened read-write never delivers data nor EOF.
open_sleeper() {
  local tmp
  tmp=$(mktemp -d)
  mkfifo "$tmp/sleep"
  exec {SLEEP_FD}<>"$tmp/sleep"
  rm -rf "$tmp"
}

# Sleeps $1 seconds (fractions allowed) on the sleeper fd; trapped signals interrupt it.
nap() {
  read -r -t "$1" -u "$SLEEP_FD" _ || true
}

# Blocks until a trapped signal ends the process.
wait_forever() {
  while :; do read -r -u "$SLEEP_FD" _ || true; done
}

# v1 period options (-s/-u) are plain integers; v2 periods take an optional unit (us, ms, s, m;
# default ms). Prints microseconds, or fails.
parse_period_us() {
  local p=$1 n unit
  n=${p%%[!0-9]*}
  unit=${p#"$n"}
  [ -n "$n" ] || return 1
  case $unit in
    us) echo "$n" ;;
    ms | '') echo $((n * 1000)) ;;
    s) echo $((n * 1000000)) ;;
    m) echo $((n * 60000000)) ;;
    *) return 1 ;;
  esac
}

# v2 line values: 1/0, active/inactive, on/off, true/false. Prints 0 or 1, or fails.
parse_v2_value() {
  case $1 in
    1 | active | on | true) echo 1 ;;
    0 | inactive | off | false) echo 0 ;;
    *) return 1 ;;
  esac
}

# Checks an offset against NGPIO; v1 and v2 phrase the failure differently.
offset_in_range() {
  case $1 in '' | *[!0-9]*) return 1 ;; esac
  [ "$1" -lt "$NGPIO" ]
}
