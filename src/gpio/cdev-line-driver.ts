/**
 * An output line on the GPIO character device, held by the libgpiod tools through the holder script
 * ({@link LINE_HOLDER_SCRIPT}): one small `sh` per line, fed one value per change on its stdin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { FaceedgeError } from '../errors.js';
import type { LineDriver } from './gpio-types.js';
import { holdArgs, oneShotArgs, type LibgpiodTools, type ToolLine } from './libgpiod-tools.js';
import { LINE_HOLDER_SCRIPT } from './line-holder-script.js';

/** Options of {@link CdevLineDriver.open}. */
export interface CdevLineOptions {
  readonly tools: LibgpiodTools;
  readonly line: ToolLine;
  /** Logical safe state, driven at start and at the end. */
  readonly safe: boolean;
  /** Environment of the holder (PATH finds gpioset). */
  readonly env: NodeJS.ProcessEnv;
  /** How long a change may take to be acknowledged, ms. Default 5000. */
  readonly ackTimeoutMs?: number;
}

/** Holder arguments are split on spaces by the script, so only plain tokens may appear in them. */
const PLAIN_TOKEN = /^[\w.:/=+-]+$/;

interface PendingAck {
  readonly expect: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class CdevLineDriver implements LineDriver {
  #pending: PendingAck | null = null;
  readonly #failureListeners: ((error: Error) => void)[] = [];
  readonly #stderrTail: string[] = [];
  #released = false;
  #releasing: Promise<void> | null = null;
  #releasedLine = false;
  /** The last "error …" the holder reported. */
  #holderError = '';
  readonly #exited: Promise<void>;

  readonly #proc: ChildProcess;
  readonly #options: CdevLineOptions;

  private constructor(proc: ChildProcess, options: CdevLineOptions) {
    this.#proc = proc;
    this.#options = options;
    proc.on('error', () => {});
    proc.stdin!.on('error', () => {});
    proc.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.#stderrTail.push(...text.split('\n').filter(Boolean));
      this.#stderrTail.splice(0, Math.max(0, this.#stderrTail.length - 10));
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => this.#onLine(line));
    this.#exited = new Promise((resolve) => proc.once('close', () => resolve()));
    // #exited only resolves (on the holder's close), and #onExit fails the pending request instead of throwing.
    void this.#exited.then(() => this.#onExit());
  }

  /**
   * Starts the holder and resolves once the line is requested and at the safe state.
   * @throws FaceedgeError GPIO_FAILED when gpioset cannot take the line (busy, no such chip or offset).
   */
  static async open(options: CdevLineOptions): Promise<CdevLineDriver> {
    const hold = holdArgs(options.tools, options.line);
    const oneShot = oneShotArgs(options.tools, options.line);
    for (const token of [...hold, ...oneShot, options.line.chip]) {
      if (!PLAIN_TOKEN.test(token))
        throw new FaceedgeError('CONFIG_INVALID', `gpio: "${token}" is not a plain chip/consumer name`);
    }
    const mode = options.tools.major === 1 ? 'signal' : options.tools.interactive ? 'interactive' : 'banner';
    const safe = options.safe ? '1' : '0';
    const proc = spawn(
      'sh',
      [
        '-c',
        LINE_HOLDER_SCRIPT,
        'faceedge-gpio-holder',
        mode,
        String(options.line.offset),
        safe,
        safe,
        hold.join(' '),
        oneShot.join(' '),
        options.line.chip,
      ],
      {
        // Its own process group: a Ctrl-C meant for the daemon must not kill gpioset before the daemon
        // has driven the safe state itself; the holder follows the daemon through its stdin instead.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: options.env,
      },
    );
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', reject);
    }).catch((err: unknown) => {
      throw new FaceedgeError('GPIO_UNAVAILABLE', `cannot start sh for gpio line ${options.line.offset}`, {
        cause: err,
      });
    });
    const driver = new CdevLineDriver(proc, options);
    try {
      await driver.#expectAck(`held ${safe}`);
    } catch {
      // The holder runs its fail-safe and exits; wait for it so gpioset's stderr (the reason) is in.
      await driver.release().catch(() => {});
      throw driver.#failure(`could not take the line${driver.#holderError ? `: ${driver.#holderError}` : ''}`);
    }
    return driver;
  }

  write(on: boolean): Promise<void> {
    if (this.#released) return Promise.reject(new FaceedgeError('GPIO_FAILED', 'gpio line already released'));
    const value = on ? '1' : '0';
    const ack = this.#expectAck(`held ${value}`);
    this.#proc.stdin!.write(`${value}\n`);
    return ack;
  }

  release(): Promise<void> {
    if (this.#releasing) return this.#releasing;
    this.#released = true;
    this.#releasing = (async () => {
      this.#proc.stdin!.end();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>(
        (resolve) => (timer = setTimeout(() => resolve('timeout'), this.#ackTimeoutMs)),
      );
      const outcome = await Promise.race([this.#exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.#killGroup();
        await this.#exited;
      }
      if (!this.#releasedLine) {
        throw new FaceedgeError(
          'GPIO_FAILED',
          `gpio line ${this.#options.line.chip}/${this.#options.line.offset}: the safe state was not confirmed`,
          {
            hint: this.#stderrTail.join('; ') || 'the holder ended without confirming',
          },
        );
      }
    })();
    return this.#releasing;
  }

  onFailure(listener: (error: Error) => void): void {
    this.#failureListeners.push(listener);
  }

  get #ackTimeoutMs(): number {
    return this.#options.ackTimeoutMs ?? 5000;
  }

  #expectAck(expect: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = null;
        reject(this.#failure(`no "${expect}" from the holder within ${this.#ackTimeoutMs} ms`));
      }, this.#ackTimeoutMs);
      this.#pending = { expect, resolve, reject, timer };
    });
  }

  #onLine(line: string): void {
    if (line.startsWith('released ')) {
      this.#releasedLine = true;
      return;
    }
    if (line.startsWith('error ')) this.#holderError = line.slice('error '.length);
    const pending = this.#pending;
    if (!pending) return;
    if (line === pending.expect) {
      this.#settle();
      pending.resolve();
    } else if (line.startsWith('error ')) {
      this.#settle();
      pending.reject(this.#failure(line.slice('error '.length)));
    }
  }

  #onExit(): void {
    const error = this.#failure('the holder exited');
    const pending = this.#pending;
    if (pending) {
      this.#settle();
      pending.reject(error);
    }
    if (!this.#released) {
      this.#released = true;
      for (const listener of this.#failureListeners) listener(error);
    }
  }

  #settle(): void {
    if (this.#pending) clearTimeout(this.#pending.timer);
    this.#pending = null;
  }

  #failure(what: string): FaceedgeError {
    const { chip, offset } = this.#options.line;
    const stderr = this.#stderrTail.join('; ');
    return new FaceedgeError('GPIO_FAILED', `gpio line ${chip}/${offset}: ${what}${stderr ? ` (${stderr})` : ''}`, {
      hint: 'another process may hold the line (gpioinfo shows its consumer), or the chip/offset is wrong',
    });
  }

  #killGroup(): void {
    try {
      process.kill(-this.#proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
