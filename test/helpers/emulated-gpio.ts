/**
 * Test side of the libgpiod stand-ins (test/stand-ins/gpio-sim.bash): creates emulated chips in a temp
 * dir, a PATH folder holding the stand-in tools (so an installed libgpiod is never picked up), and reads
 * and drives lines the way the outside world would see them.
 */
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const STAND_INS = join(dirname(fileURLToPath(import.meta.url)), '..', 'stand-ins');
const TOOLS = ['gpiodetect', 'gpioget', 'gpioinfo', 'gpioset', 'gpiomon'];

export interface EmulatedChip {
  readonly name: string;
  readonly label: string;
  readonly lines: number;
}

export interface EmulatedGpioOptions {
  /** libgpiod version imitated, e.g. `1.6.3` or `2.1.3`. */
  readonly version: string;
  /** v2 gpioset built with -i. Default true. */
  readonly interactive?: boolean;
  /** What a released output does: `keep` its level (Raspberry Pi default) or revert to `pull`. Default keep. */
  readonly release?: 'keep' | 'pull';
  readonly chips: readonly EmulatedChip[];
}

/** One entry of a line's drive log. */
export interface LineLogEntry {
  /** Wall-clock ms. */
  readonly timeMs: number;
  readonly what: '0' | '1' | 'release';
  readonly pid: number;
}

function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The file's text, or `fallback` when it does not exist (also when it vanishes between a check and the read). */
function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
}

export class EmulatedGpio {
  readonly dir: string;
  readonly binDir: string;

  readonly #options: EmulatedGpioOptions;

  constructor(options: EmulatedGpioOptions) {
    this.#options = options;
    const root = mkdtempSync(join(tmpdir(), 'faceedge-gpiosim-'));
    this.dir = join(root, 'sim');
    this.binDir = join(root, 'bin');
    mkdirSync(this.binDir, { recursive: true });
    for (const tool of TOOLS) symlinkSync(join(STAND_INS, tool), join(this.binDir, tool));
    for (const chip of options.chips) {
      const chipDir = join(this.dir, 'chips', chip.name);
      mkdirSync(join(chipDir, 'lines'), { recursive: true });
      writeFileSync(join(chipDir, 'label'), `${chip.label}\n`);
      writeFileSync(join(chipDir, 'ngpio'), `${chip.lines}\n`);
    }
    writeFileSync(join(this.dir, 'release'), `${options.release ?? 'keep'}\n`);
  }

  /**
   * Waits until no process works on these chips any more, then deletes them. A line holder outlives a
   * killed daemon on purpose (its fail-safe drives the safe value after the daemon is gone), so deleting
   * the folder at once races the holder's last writes (ENOTEMPTY). Rejects after `timeoutMs`, naming them.
   */
  async remove(timeoutMs = 15_000): Promise<void> {
    await waitUntil(() => this.users().length === 0, `the processes using ${this.dir} to end`, timeoutMs).catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${this.users().join(', ')}`);
      },
    );
    rmSync(dirname(this.dir), { recursive: true, force: true });
  }

  /** Live processes whose environment names these chips (`pid program`): the stand-ins and their holders. */
  users(): string[] {
    const marker = `FACEEDGE_GPIO_SIM=${this.dir}\0`;
    const found: string[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || !pidAlive(Number(entry))) continue;
      try {
        if (`${readFileSync(`/proc/${entry}/environ`, 'latin1')}\0`.includes(marker))
          found.push(`${entry} ${readFileSync(`/proc/${entry}/comm`, 'utf8').trim()}`);
      } catch {
        // Gone between the listing and the read, or not ours to read.
      }
    }
    return found;
  }

  /** Environment for faceedge and its children: the stand-ins first on PATH. */
  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${this.binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      FACEEDGE_GPIO_SIM: this.dir,
      FACEEDGE_GPIO_SIM_VERSION: this.#options.version,
      FACEEDGE_GPIO_SIM_INTERACTIVE: this.#options.interactive === false ? '0' : '1',
    };
  }

  #lineDir(chip: string, offset: number): string {
    const dir = join(this.dir, 'chips', chip, 'lines', String(offset));
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Pid holding the line, or null when it is free (a dead holder means released). */
  holder(chip: string, offset: number): number | null {
    const pid = Number(readOr(join(this.#lineDir(chip, offset), 'holder'), '0'));
    return pid > 0 && pidAlive(pid) ? pid : null;
  }

  /** Program name of the process holding the line (`gpioset`, `gpiomon`), or null. */
  holderProgram(chip: string, offset: number): string | null {
    const pid = this.holder(chip, offset);
    if (pid === null) return null;
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return null;
    }
  }

  consumer(chip: string, offset: number): string {
    return readOr(join(this.#lineDir(chip, offset), 'consumer'), '');
  }

  /** The physical level on the line, as gpio-sim.bash's line_level computes it. */
  level(chip: string, offset: number): 0 | 1 {
    const dir = this.#lineDir(chip, offset);
    const pull = readOr(join(dir, 'pull'), '0');
    const direction = readOr(join(dir, 'direction'), '');
    const value = readOr(join(dir, 'value'), '');
    if (direction === 'output' && value !== '') {
      if (this.holder(chip, offset) !== null || (this.#options.release ?? 'keep') === 'keep')
        return value === '1' ? 1 : 0;
    }
    return pull === '1' ? 1 : 0;
  }

  /** Sets the level the outside world puts on the line (what gpiomon reports as edges). */
  drive(chip: string, offset: number, level: 0 | 1): void {
    const dir = this.#lineDir(chip, offset);
    writeFileSync(join(dir, 'pull'), `${level}\n`);
    const ns = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor((performance.now() % 1) * 1e6));
    appendFileSync(join(dir, 'edges'), `${ns} ${level}\n`);
  }

  /** The drive log of the line, oldest first. */
  log(chip: string, offset: number): LineLogEntry[] {
    const text = readOr(join(this.#lineDir(chip, offset), 'log'), '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [time, what, pid] = line.split(' ');
        return { timeMs: Number(time) * 1000, what: what as LineLogEntry['what'], pid: Number(pid) };
      });
  }
}

/** Polls `check` every 10 ms until it returns true; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
