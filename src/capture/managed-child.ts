/**
 * A child process the capture layer owns (ffmpeg, rpicam-vid): stdout piped to us, the last stderr lines
 * kept as the error reason, and a kill that always finishes. It runs in its own process group so that a
 * wrapper script and everything it started die together, and no orphan keeps the camera open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

/** How a child ended. */
export interface ChildExit {
  /** Exit status, or null when it was killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options of {@link ManagedChild.spawn}. */
export interface ManagedChildOptions {
  /** Environment of the child; default this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** How many of the last stderr lines to keep. Default 20. */
  readonly stderrLines?: number;
  /** Substrings (passwords in URLs) replaced by `***` in kept stderr lines. */
  readonly secrets?: readonly string[];
  /** Called with each stderr line as it arrives (trimmed, secrets masked). */
  readonly onStderrLine?: (line: string) => void;
}

export class ManagedChild {
  /** Settles when the process has exited and its stdout/stderr are closed. Never rejects. */
  readonly exited: Promise<ChildExit>;
  readonly #tail: string[] = [];
  #partialLine = '';
  #exit: ChildExit | null = null;

  readonly #proc: ChildProcess;
  readonly #options: ManagedChildOptions;

  private constructor(proc: ChildProcess, options: ManagedChildOptions) {
    this.#proc = proc;
    this.#options = options;
    this.exited = new Promise((resolve) => {
      proc.once('close', (code, signal) => {
        this.#flushStderr();
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
    // The leader is gone: take down anything it left in its group (a script's ffmpeg) so pipes close.
    proc.once('exit', () => this.#signalGroup('SIGKILL'));
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (text: string) => this.#onStderr(text));
    // Errors after a successful spawn (EPIPE on kill races) must not become uncaught exceptions.
    proc.on('error', () => {});
    proc.stdout!.on('error', () => {});
  }

  /**
   * Starts `command` and resolves once it is running.
   * @throws the spawn error (`code` `ENOENT` when the program is not on PATH, `EACCES`…).
   */
  static spawn(command: string, args: readonly string[], options: ManagedChildOptions = {}): Promise<ManagedChild> {
    return new Promise((resolve, reject) => {
      const proc = spawn(command, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // own process group: see the file comment
        env: options.env,
      });
      const onError = (err: Error): void => reject(err);
      proc.once('error', onError);
      proc.once('spawn', () => {
        proc.off('error', onError);
        resolve(new ManagedChild(proc, options));
      });
    });
  }

  get pid(): number {
    return this.#proc.pid!;
  }

  get stdout(): Readable {
    return this.#proc.stdout!;
  }

  /** True once the process has exited and its pipes are closed. */
  get hasExited(): boolean {
    return this.#exit !== null;
  }

  /** The last stderr lines, oldest first, secrets masked. */
  stderrTail(): readonly string[] {
    return [...this.#tail];
  }

  /**
   * Stops the process group: SIGTERM (and SIGCONT, so a stopped process can act on it), then SIGKILL when
   * it has not exited after `graceMs` (default 2000 ms). Resolves when it has exited.
   */
  async kill(graceMs = 2000): Promise<ChildExit> {
    if (this.#exit) return this.#exit;
    this.#signalGroup('SIGTERM');
    this.#signalGroup('SIGCONT');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timeout') this.#signalGroup('SIGKILL');
    return this.exited;
  }

  #signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.#proc.pid!, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  #onStderr(text: string): void {
    const lines = (this.#partialLine + text).split(/\r?\n|\r/);
    this.#partialLine = lines.pop() ?? '';
    for (const line of lines) this.#keep(line);
    // A process that never ends a line must not grow this without bound.
    if (this.#partialLine.length > 4096) {
      this.#keep(this.#partialLine);
      this.#partialLine = '';
    }
  }

  #flushStderr(): void {
    if (this.#partialLine) this.#keep(this.#partialLine);
    this.#partialLine = '';
  }

  #keep(line: string): void {
    let clean = line.trim();
    if (!clean) return;
    for (const secret of this.#options.secrets ?? []) if (secret) clean = clean.split(secret).join('***');
    this.#tail.push(clean);
    this.#options.onStderrLine?.(clean);
    const max = this.#options.stderrLines ?? 20;
    if (this.#tail.length > max) this.#tail.splice(0, this.#tail.length - max);
  }
}
