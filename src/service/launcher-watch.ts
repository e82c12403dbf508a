/**
 * Stopping with npm. `npx faceedge run` and `npm run faceedge -- run` start the daemon under npm,
 * through `sh -c`: a SIGTERM (or SIGHUP) to npm reaches the shell, which dies without passing it on,
 * and the daemon would keep running, orphaned. So when npm started us (it sets `npm_command`), we find
 * the npm process among our ancestors (Linux /proc) and stop when it is gone: whoever stops npm stops
 * the daemon. Under systemd or a plain shell (`faceedge run`, `node bin/faceedge.js run`) nothing is
 * watched; signals reach the daemon directly there.
 */
import { readFileSync } from 'node:fs';
import { processAlive } from './process-alive.js';

/** The parent pid of `pid` from /proc/<pid>/stat; null when it cannot be read. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may contain spaces and parentheses, so read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

function isNpm(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return (
      argv.slice(0, 2).some((arg) => /(^|\/)(npm|npx)(-cli\.js)?$/.test(arg)) ||
      /^npm (exec|run|run-script|start)\b/.test(argv.join(' '))
    );
  } catch {
    return false;
  }
}

/** The closest npm ancestor of `pid` (at most 8 generations up), or null. */
export function findNpmAncestor(pid: number = process.pid): number | null {
  let current = parentOf(pid);
  for (let depth = 0; current !== null && current > 1 && depth < 8; depth++) {
    if (isNpm(current)) return current;
    current = parentOf(current);
  }
  return null;
}

export interface LauncherWatch {
  /** The npm process watched. */
  readonly pid: number;
  stop(): void;
}

/**
 * When `env` says npm started this process, calls `onGone` once the npm ancestor has exited (checked
 * every `intervalMs`, default 1000). Returns null when there is nothing to watch.
 */
export function watchNpmLauncher(
  env: NodeJS.ProcessEnv,
  onGone: (pid: number) => void,
  intervalMs = 1000,
): LauncherWatch | null {
  if (!env.npm_command) return null;
  const pid = findNpmAncestor();
  if (pid === null) return null;
  const timer = setInterval(() => {
    if (processAlive(pid)) return;
    clearInterval(timer);
    onGone(pid);
  }, intervalMs).unref();
  return { pid, stop: () => clearInterval(timer) };
}
