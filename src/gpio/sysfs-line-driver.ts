/**
 * An output line through sysfs. Unlike the character device, an exported sysfs line keeps whatever the
 * last writer left when that writer dies, so a crash would leave a relay in its last state. A tiny
 * guard process (`sh`) covers that: it waits on a pipe from the daemon and, when the pipe ends (the
 * daemon exited, even by SIGKILL) or it is signalled, writes the safe value to the line's `value` file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FaceedgeError } from '../errors.js';
import type { LineDriver } from './gpio-types.js';
import { SysfsLine } from './sysfs-line.js';

/** Arguments: <value file> <safe 0|1>. Prints "ready" once armed and "released <safe>" at the end. */
export const SYSFS_GUARD_SCRIPT = `trap '' PIPE
value=$1 safe=$2
finish() {
  trap '' TERM INT HUP
  if printf '%s' "$safe" > "$value"; then echo "released $safe"; exit 0; fi
  echo "error cannot write $value"
  exit 1
}
trap finish TERM INT HUP
echo ready
while IFS= read -r _; do :; done
finish
`;

/** Options of {@link SysfsLineDriver.open}. */
export interface SysfsLineOptions {
  /** Root of the sysfs GPIO class (default in config: `/sys/class/gpio`). */
  readonly root: string;
  /** Global line number (chip base + offset). */
  readonly number: number;
  readonly activeLow: boolean;
  /** Logical safe state. */
  readonly safe: boolean;
  /** Environment of the guard. */
  readonly env: NodeJS.ProcessEnv;
}

export class SysfsLineDriver implements LineDriver {
  readonly #failureListeners: ((error: Error) => void)[] = [];
  #releasing: Promise<void> | null = null;
  #confirmed = false;
  readonly #exited: Promise<void>;

  readonly #line: SysfsLine;
  readonly #guard: ChildProcess;
  readonly #options: SysfsLineOptions;

  private constructor(line: SysfsLine, guard: ChildProcess, options: SysfsLineOptions) {
    this.#line = line;
    this.#guard = guard;
    this.#options = options;
    guard.stdin!.on('error', () => {});
    createInterface({ input: guard.stdout! }).on('line', (text) => {
      if (text.startsWith('released ')) this.#confirmed = true;
    });
    this.#exited = new Promise((resolve) => guard.once('close', () => resolve()));
    // #exited only resolves (on the guard's close); what follows reports the exit instead of throwing.
    void this.#exited.then(() => {
      if (this.#releasing) return;
      const error = new FaceedgeError('GPIO_FAILED', `the fail-safe guard of GPIO ${options.number} exited`);
      for (const listener of this.#failureListeners) listener(error);
    });
  }

  /** Exports the line, makes it an output at the safe level without a glitch, and arms the guard. */
  static async open(options: SysfsLineOptions): Promise<SysfsLineDriver> {
    const line = await SysfsLine.export(options.root, options.number);
    await line.write('active_low', options.activeLow ? '1' : '0');
    // "high"/"low" set output and level in one step (no glitch through a default level). They are
    // raw levels: active_low does not apply to them.
    const rawSafe = options.safe !== options.activeLow;
    await line.write('direction', rawSafe ? 'high' : 'low');
    await line.write('value', options.safe ? '1' : '0');
    const guard = spawn(
      'sh',
      ['-c', SYSFS_GUARD_SCRIPT, 'faceedge-gpio-guard', join(line.dir, 'value'), options.safe ? '1' : '0'],
      {
        detached: true, // see CdevLineDriver: only the pipe from the daemon decides when it fires
        stdio: ['pipe', 'pipe', 'inherit'],
        env: options.env,
      },
    );
    const armed = await new Promise<boolean>((resolve) => {
      guard.once('error', () => resolve(false));
      guard.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().startsWith('ready')));
      guard.once('close', () => resolve(false));
    });
    if (!armed)
      throw new FaceedgeError('GPIO_FAILED', `cannot start the fail-safe guard of GPIO ${options.number}`, {
        hint: 'sh must be on PATH',
      });
    return new SysfsLineDriver(line, guard, options);
  }

  write(on: boolean): Promise<void> {
    if (this.#releasing)
      return Promise.reject(new FaceedgeError('GPIO_FAILED', `GPIO ${this.#options.number} already released`));
    return this.#line.write('value', on ? '1' : '0');
  }

  /**
   * Writes the safe value and disarms the guard (which writes it once more). The line stays exported:
   * unexporting hands the pin back to the kernel, which may turn it into a floating input.
   */
  release(): Promise<void> {
    if (this.#releasing) return this.#releasing;
    this.#releasing = (async () => {
      await this.#line.write('value', this.#options.safe ? '1' : '0');
      this.#guard.stdin!.end();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
      await Promise.race([this.#exited, late]);
      clearTimeout(timer);
      if (!this.#confirmed) {
        try {
          process.kill(-this.#guard.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }
    })();
    return this.#releasing;
  }

  onFailure(listener: (error: Error) => void): void {
    this.#failureListeners.push(listener);
  }
}
