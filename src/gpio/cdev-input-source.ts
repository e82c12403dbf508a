/**
 * Raw levels of an input line on the GPIO character device: gpioget once for the level at start, then a
 * long-lived gpiomon printing one line per edge. A gpiomon that dies is restarted after a pause, reading
 * the level again first, so a change missed in between is still reflected.
 *
 * gpioget and gpiomon cannot hold the line at the same time, so an edge in the few milliseconds between
 * the read and gpiomon's request is only caught by the next restart; inputs here are PIR sensors and
 * contacts whose states last seconds.
 *
 * gpiomon runs under a small shell watchdog (as the output lines' holder does): the daemon keeps the
 * write end of the watchdog's stdin, which the kernel closes however the daemon dies, even by SIGKILL;
 * at end of input the watchdog kills gpiomon. Without it an orphaned gpiomon would keep the line
 * requested and the restarted daemon could not monitor its input.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { GpioBias, RawInputSource } from './gpio-types.js';
import {
  getArgs,
  monitorArgs,
  parseGetOutput,
  parseMonitorLine,
  runTool,
  type LibgpiodTools,
  type ToolLine,
} from './libgpiod-tools.js';

/** Options of {@link CdevInputSource}. */
export interface CdevInputOptions {
  readonly tools: LibgpiodTools;
  readonly line: ToolLine;
  readonly bias: GpioBias;
  readonly env: NodeJS.ProcessEnv;
  /** Pause before restarting a gpiomon that exited, ms. Default 1000. */
  readonly restartDelayMs?: number;
  /** Told why gpiomon stopped, before each restart. */
  readonly onProblem?: (message: string) => void;
}

/**
 * Runs `gpiomon "$@"` and exits with its status; kills it when stdin reaches end of input (the daemon is
 * gone, or stop() closed it) or on SIGTERM/SIGINT/SIGHUP. The reader gets stdin as fd 3 because an
 * asynchronous list's own stdin is /dev/null in a non-interactive shell. A trapped signal ends the first
 * `wait` at once, with gpiomon signalled but maybe not gone yet: the second `wait` lets the watchdog exit
 * only once gpiomon has (and with it its hold on the line), so stop() resolving means the line is free.
 */
export const GPIOMON_WATCHDOG_SCRIPT = `exec 3<&0
gpiomon "$@" </dev/null &
m=$!
{ while read -r _ <&3; do :; done; kill "$m" 2>/dev/null; } &
r=$!
trap 'kill "$m" 2>/dev/null' TERM INT HUP
wait "$m"
s=$?
wait "$m" 2>/dev/null
kill "$r" 2>/dev/null
exit "$s"`;

export class CdevInputSource implements RawInputSource {
  #proc: ChildProcess | null = null;
  #stopped = false;
  #restartTimer: NodeJS.Timeout | null = null;
  /** A restart under way (its gpioget holds the line while it reads); stop() waits for it. */
  #restarting: Promise<void> | null = null;
  #onLevel: ((value: boolean, timeMs: number) => void) | null = null;

  readonly #options: CdevInputOptions;

  constructor(options: CdevInputOptions) {
    this.#options = options;
  }

  async start(onLevel: (value: boolean, timeMs: number) => void): Promise<boolean> {
    this.#onLevel = onLevel;
    const initial = await this.#read();
    this.#monitor();
    return initial;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    // A restart's gpioget may hold the line right now: the line is free only once it has exited.
    if (this.#restarting) await this.#restarting;
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    // End of input only, never a signal: a SIGTERM landing before the watchdog has set its trap (a stop right
    // after the start) killed the watchdog alone and left gpiomon running, holding the line and our pipes, so
    // the close never came. End of input cannot arrive too early: the reader sees it whenever it starts.
    proc.stdin?.end();
    const timer = setTimeout(() => killGroup(proc), 2000);
    await closed;
    clearTimeout(timer);
  }

  async #read(): Promise<boolean> {
    const { tools, line, bias, env } = this.#options;
    return parseGetOutput(await runTool('gpioget', getArgs(tools, line, bias), env));
  }

  #monitor(): void {
    const { tools, line, bias, env } = this.#options;
    const proc = spawn('sh', ['-c', GPIOMON_WATCHDOG_SCRIPT, 'gpiomon', ...monitorArgs(tools, line, bias)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
      // Its own process group, so the last resort of stop() reaches gpiomon too (and a Ctrl-C meant for the
      // daemon does not kill gpiomon before the daemon has let go of the input).
      detached: true,
    });
    // A write to a watchdog that has exited must not throw (EPIPE): nothing is ever written anyway.
    proc.stdin!.on('error', () => undefined);
    this.#proc = proc;
    let stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-500)));
    proc.on('error', (err) => (stderr += err.message));
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      const value = parseMonitorLine(tools, text);
      if (value !== null && !this.#stopped) this.#onLevel?.(value, performance.now());
    });
    proc.once('close', (code, signal) => {
      if (this.#stopped) return;
      this.#options.onProblem?.(`gpiomon for ${line.chip}/${line.offset} exited (${signal ?? code}): ${stderr.trim()}`);
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = null;
        // #restart reports its own failures through onProblem and never rejects; stop() awaits it.
        this.#restarting = this.#restart().finally(() => (this.#restarting = null));
      }, this.#options.restartDelayMs ?? 1000);
    });
  }

  async #restart(): Promise<void> {
    if (this.#stopped) return;
    try {
      const level = await this.#read();
      if (!this.#stopped) this.#onLevel?.(level, performance.now());
    } catch (err) {
      this.#options.onProblem?.((err as Error).message);
    }
    if (!this.#stopped) this.#monitor();
  }
}

/** SIGKILL to the watchdog's process group (watchdog, reader, gpiomon): stop()'s last resort. */
function killGroup(proc: ChildProcess): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
