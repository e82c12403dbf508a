/**
 * A live camera behind a long-lived child process that writes MJPEG to stdout (rpicam-vid, ffmpeg on V4L2
 * or RTSP, or any command). Cameras hang and crash in the field, so a watchdog restarts the process when
 * no frame arrived for `watchdogMs` or when it exits, with capped exponential backoff; the status goes
 * offline (with the process's own last stderr line as the reason) and back online at the next frame.
 */
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { sleep } from './abortable-wait.js';
import type { CommonSourceOptions, FrameSource, SourceStats } from './frame-source.js';
import { ManagedChild } from './managed-child.js';
import { MjpegParser, type MjpegParserStats } from './mjpeg-parser.js';
import { SourceReporter, type SourceClock } from './source-reporter.js';

/** A program and its arguments. */
export interface ProcessCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/** Restart delays: `initialMs × factor^(failures-1)`, at most `maxMs`. */
export interface BackoffOptions {
  /** Delay before the first restart, ms. Default 500. */
  readonly initialMs?: number;
  /** Longest delay, ms. Default 30000. */
  readonly maxMs?: number;
  /** Growth per consecutive failure. Default 2. */
  readonly factor?: number;
}

/** Default watchdog of a camera process, ms: a local camera (rpicam, V4L2, a command) silent this long is restarted. */
export const DEFAULT_WATCHDOG_MS = 5000;

/** Options of {@link ProcessMjpegSource}. */
export interface ProcessMjpegSourceOptions extends CommonSourceOptions {
  /**
   * What to run, or a function resolving it at `start()` (e.g. to find `rpicam-vid` on PATH, or to check a
   * device exists); a FaceedgeError it throws makes `start()` fail.
   */
  readonly command: ProcessCommand | (() => Promise<ProcessCommand>);
  /** Restart when no frame arrived for this long, ms (also the allowance for the first frame). Default 5000. */
  readonly watchdogMs?: number;
  readonly backoff?: BackoffOptions;
  /** Time between SIGTERM and SIGKILL when stopping the process, ms. Default 2000. */
  readonly killGraceMs?: number;
  /** Largest JPEG accepted, bytes. Default 8 MiB. */
  readonly maxFrameBytes?: number;
  /** Environment of the child; default this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Substrings masked as `***` in reported stderr (a password in an RTSP URL). */
  readonly secrets?: readonly string[];
  readonly clock?: SourceClock;
}

/** Counters of a process source. */
export interface ProcessSourceStats extends SourceStats {
  /** Restarts after an exit or a watchdog timeout (`starts - 1` once running). */
  readonly restarts: number;
  readonly parser: MjpegParserStats;
}

export class ProcessMjpegSource implements FrameSource {
  readonly name: string;
  readonly #reporter: SourceReporter;
  readonly #parser: MjpegParser;
  readonly #controller = new AbortController();
  #child: ManagedChild | null = null;
  #running: Promise<void> | null = null;
  #startPromise: Promise<void> | null = null;
  #restarts = 0;

  readonly #options: ProcessMjpegSourceOptions;

  constructor(options: ProcessMjpegSourceOptions) {
    this.#options = options;
    this.name = options.name ?? (typeof options.command === 'function' ? 'process' : options.command.command);
    this.#reporter = new SourceReporter(options.sink, options.clock);
    this.#parser = new MjpegParser({
      maxFrameBytes: options.maxFrameBytes,
      onSkip: (reason) =>
        this.#reporter.skip(new FaceedgeError('IMAGE_UNREADABLE', `${this.name}: skipped a JPEG frame: ${reason}`)),
    });
  }

  /** Process id of the running child, for diagnostics; undefined between restarts. */
  get pid(): number | undefined {
    return this.#child && !this.#child.hasExited ? this.#child.pid : undefined;
  }

  /**
   * Resolves once the first process is running (frames may take a moment more).
   * @throws FaceedgeError when the command cannot be resolved or started at all (`SOURCE_FAILED`, or what
   *   the resolver throws, e.g. `CAMERA_NOT_FOUND`).
   */
  start(signal?: AbortSignal): Promise<void> {
    this.#startPromise ??= this.#doStart(signal);
    return this.#startPromise;
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#child?.kill(this.#options.killGraceMs);
    await this.#running;
    this.#reporter.end('stopped');
  }

  stats(): ProcessSourceStats {
    return { ...this.#reporter.stats(), restarts: this.#restarts, parser: this.#parser.stats() };
  }

  async #doStart(signal?: AbortSignal): Promise<void> {
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    if (signal?.aborted || this.#controller.signal.aborted) return;
    const command = typeof this.#options.command === 'function' ? await this.#options.command() : this.#options.command;
    this.#reporter.status('offline', `starting ${command.command}`);
    let first: ManagedChild;
    try {
      first = await this.#spawn(command);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FaceedgeError('SOURCE_FAILED', `cannot start ${command.command}: ${(err as Error).message}`, {
        hint: code === 'ENOENT' ? `Install ${command.command} or put it on PATH.` : undefined,
        cause: err,
      });
    }
    if (this.#controller.signal.aborted) {
      // stop() ran while we were spawning: it could not see this child.
      await first.kill(this.#options.killGraceMs);
      return;
    }
    this.#running = this.#supervise(command, first);
  }

  #spawn(command: ProcessCommand): Promise<ManagedChild> {
    return ManagedChild.spawn(command.command, command.args, {
      env: this.#options.env,
      secrets: this.#options.secrets,
    });
  }

  /** Runs the child, restarts it on exit or silence, until stopped. */
  async #supervise(command: ProcessCommand, first: ManagedChild): Promise<void> {
    const signal = this.#controller.signal;
    let failures = 0;
    let child: ManagedChild | null = first;
    while (!signal.aborted) {
      let reason: string;
      if (child) {
        this.#child = child;
        this.#reporter.started();
        const run = await this.#watch(child);
        if (run.gotFrame) failures = 0;
        reason = run.reason;
      } else {
        reason = 'spawn failed';
      }
      if (signal.aborted) break;
      failures++;
      const delay = this.#backoffMs(failures);
      this.#reporter.status('offline', reason);
      this.#reporter.error(
        new FaceedgeError('SOURCE_FAILED', `${this.name}: ${reason}; restarting in ${delay} ms`, {
          hint: 'Check the camera cable/URL and the program output above.',
        }),
      );
      if (!(await sleep(delay, signal))) break;
      this.#restarts++;
      try {
        child = await this.#spawn(command);
      } catch (err) {
        child = null;
        this.#reporter.error(
          isFaceedgeError(err) ? err : new FaceedgeError('SOURCE_FAILED', `${this.name}: ${(err as Error).message}`),
        );
      }
    }
    // A child spawned just as stop() ran was never watched: do not leave it running.
    if (child && !child.hasExited) await child.kill(this.#options.killGraceMs);
    this.#child = null;
  }

  /** Feeds one child's stdout to the parser until it exits or the watchdog fires; says why it ended. */
  async #watch(child: ManagedChild): Promise<{ reason: string; gotFrame: boolean }> {
    const watchdogMs = this.#options.watchdogMs ?? DEFAULT_WATCHDOG_MS;
    let lastActivity = performance.now();
    let gotFrame = false;
    let silent = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (this.#controller.signal.aborted) return;
      for (const jpeg of this.#parser.push(chunk)) {
        lastActivity = performance.now();
        if (!gotFrame) {
          gotFrame = true;
          this.#reporter.status('online', `receiving frames from ${child.pid}`);
        }
        const seq = this.#reporter.stats().framesOut;
        void this.#reporter.emit({ kind: 'encoded', data: jpeg, origin: `${this.name}#${seq}` });
      }
    });
    // Checking a timestamp on an interval is cheaper than re-arming a timer on every frame.
    const watchdog = setInterval(
      () => {
        if (performance.now() - lastActivity < watchdogMs) return;
        silent = true;
        void child.kill(this.#options.killGraceMs);
      },
      Math.min(1000, Math.max(50, watchdogMs / 4)),
    );
    const exit = await child.exited;
    clearInterval(watchdog);
    // A frame cut short by our own stop() is not a camera fault worth reporting.
    if (!this.#controller.signal.aborted) this.#parser.end();
    const last = child.stderrTail().at(-1);
    const how = exit.code !== null ? `exited with code ${exit.code}` : `was killed by ${exit.signal}`;
    const reason = silent
      ? `no frame for ${(watchdogMs / 1000).toFixed(1)} s from ${this.name}, restarted it`
      : `${this.name} ${how}`;
    return { reason: last ? `${reason}: ${last}` : reason, gotFrame };
  }

  #backoffMs(failures: number): number {
    const { initialMs = 500, maxMs = 30_000, factor = 2 } = this.#options.backoff ?? {};
    return Math.min(maxMs, Math.round(initialMs * factor ** Math.max(0, failures - 1)));
  }
}
