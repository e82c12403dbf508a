/**
 * The shell script that holds one output line through the libgpiod tools, run as `sh -c SCRIPT`.
 *
 * Why a holder process at all: a line requested through the character device is released (and may
 * revert) when the process holding it exits, so something must stay alive holding it; and when the
 * daemon dies, even by SIGKILL, the line must end in its safe state. The daemon keeps the write end of
 * the holder's stdin; the kernel closes it however the daemon dies, so the holder sees end of input and
 * runs the fail-safe: stop holding, then one more set-and-exit gpioset with the safe value, so the safe
 * value is the last thing driven (chips that keep released outputs, like the Raspberry Pi's, then stay
 * there; others fall back to the board's pull resistor, which the wiring must match). The same runs on
 * SIGTERM/SIGINT/SIGHUP, e.g. when systemd signals the whole control group and gpioset dies first.
 *
 * Arguments: <mode> <offset> <initial 0|1> <safe 0|1> <hold args> <one-shot args> <chip>; the arg
 * strings are split on spaces (callers pass only plain tokens) and `<offset>=<value>` is appended.
 *   signal       v1: gpioset --mode=signal, restarted per change; acknowledged once gpioinfo lists the
 *                line as used by "gpioset" (v1 prints nothing once it holds the line, and a gpioset still
 *                starting up on a loaded board has not necessarily requested it yet)
 *   banner       v2: gpioset restarted per change; acknowledged by its --banner line
 *   interactive  v2 built with -i: one gpioset fed "set" commands, each confirmed with "get". Glitch-free.
 *                gpioset -i itself must not be left to notice end of input: its readline loop keeps
 *                going on EOF without releasing the line, which is why the holder sends "exit".
 * stdin: "1"/"0" per change. stdout: "held <v>" per applied value, "released <safe>" at the end,
 * "error <text>" when gpioset fails (the holder then runs the fail-safe and exits).
 * SIGPIPE is ignored so that a dead daemon's closed stdout cannot kill the holder before the fail-safe.
 */
export const LINE_HOLDER_SCRIPT = `set -f
mode=$1 off=$2 initial=$3 safe=$4 hold=$5 oneshot=$6 chip=$7
pid=
trap '' PIPE
dir=$(mktemp -d "\${TMPDIR:-/tmp}/faceedge-gpio.XXXXXX") || { echo "error cannot create a temporary directory"; exit 1; }

alive() {
  [ -n "$pid" ] || return 1
  state=
  read -r _ _ state _ < "/proc/$pid/stat" 2>/dev/null || return 1
  [ "$state" != Z ]
}

stop() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; fi
}

failed() {
  wait "$pid" 2>/dev/null
  echo "error gpioset exited with status $? $1"
  pid=
  return 1
}

confirm() {
  printf 'get %s\\n' "$off" >&3 || { echo "error gpioset stopped taking commands"; return 1; }
  IFS= read -r reply <&4 || { failed "(no reply)"; return 1; }
  reply=\${reply##*gpioset> }
  case $reply in
    *=active) got=1 ;;
    *=inactive) got=0 ;;
    *) echo "error unexpected gpioset reply: $reply"; return 1 ;;
  esac
  [ "$got" = "$1" ] || { echo "error the line reads $got after setting $1"; return 1; }
}

start() {
  case $mode in
    signal)
      # gpioinfo cannot say which process uses a line, so make sure nobody does before starting ours.
      if gpioinfo "$chip" 2>/dev/null | grep -Eq "^[[:space:]]+line +$off: .*\\[used"; then
        echo "error the line is busy (used by another process)"
        return 1
      fi
      gpioset $hold "$off=$1" </dev/null &
      pid=$!
      tries=0
      until gpioinfo "$chip" 2>/dev/null | grep -Eq "^[[:space:]]+line +$off: .*\\"gpioset\\""; do
        alive || { failed; return 1; }
        tries=$((tries + 1))
        [ "$tries" -lt 500 ] || { stop; echo "error gpioset did not take the line within 5 s"; return 1; }
        sleep 0.01
      done ;;
    banner)
      mkfifo "$dir/out" || return 1
      gpioset --banner $hold "$off=$1" </dev/null >"$dir/out" &
      pid=$!
      read -r _ <"$dir/out" || { rm -f "$dir/out"; failed; return 1; }
      rm -f "$dir/out" ;;
    interactive)
      mkfifo "$dir/in" "$dir/out" || return 1
      gpioset -i $hold "$off=$1" <"$dir/in" >"$dir/out" &
      pid=$!
      exec 3>"$dir/in" 4<"$dir/out"
      rm -f "$dir/in" "$dir/out"
      confirm "$1" || return 1 ;;
  esac
  echo "held $1"
}

change() {
  if [ "$mode" = interactive ]; then
    printf 'set %s=%s\\n' "$off" "$1" >&3 || { echo "error gpioset stopped taking commands"; return 1; }
    confirm "$1" || return 1
    echo "held $1"
  else
    stop
    start "$1"
  fi
}

finish() {
  trap '' TERM INT HUP
  if [ "$mode" = interactive ] && [ -n "$pid" ]; then
    printf 'set %s=%s\\nexit\\n' "$off" "$safe" >&3 2>/dev/null
    exec 3>&-
    wait "$pid" 2>/dev/null
    exec 4<&-
    pid=
  else
    stop
  fi
  rm -rf "$dir"
  if gpioset $oneshot "$off=$safe" </dev/null; then echo "released $safe"; exit 0; fi
  echo "error could not drive the safe value"
  exit 1
}

trap finish TERM INT HUP
start "$initial" || finish
while IFS= read -r cmd; do
  case $cmd in
    0 | 1) change "$cmd" || finish ;;
    *) echo "error unknown command: $cmd" ;;
  esac
done
finish
`;
