/**
 * An emulated `/sys/class/gpio` tree in a temp dir: `gpiochip<base>/{label,base,ngpio}` per chip, and
 * the kernel's side of `export`/`unexport` (creating and removing `gpio<N>/` with its attribute files),
 * played by a poll of those two files. Everything else is the plain file ABI the code under test writes.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SysfsChipSpec {
  readonly label: string;
  readonly base: number;
  readonly ngpio: number;
}

export class SysfsEmulator {
  readonly root: string;
  #timer: NodeJS.Timeout | null = null;
  readonly #seen = new Map<string, string>();

  constructor(chips: readonly SysfsChipSpec[]) {
    this.root = join(mkdtempSync(join(tmpdir(), 'faceedge-sysfs-')), 'gpio');
    mkdirSync(this.root, { recursive: true });
    for (const chip of chips) {
      const dir = join(this.root, `gpiochip${chip.base}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'label'), `${chip.label}\n`);
      writeFileSync(join(dir, 'base'), `${chip.base}\n`);
      writeFileSync(join(dir, 'ngpio'), `${chip.ngpio}\n`);
    }
    writeFileSync(join(this.root, 'export'), '');
    writeFileSync(join(this.root, 'unexport'), '');
  }

  /** Starts playing the kernel (every 5 ms). */
  start(): this {
    this.#timer = setInterval(() => this.#tick(), 5);
    return this;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  exported(number: number): boolean {
    return existsSync(join(this.root, `gpio${number}`));
  }

  /** Content of `gpio<number>/<attribute>`, trimmed. */
  attribute(number: number, attribute: string): string {
    return readFileSync(join(this.root, `gpio${number}`, attribute), 'utf8').trim();
  }

  /** What the outside world puts on an input line (the `value` file as the kernel would show it). */
  setValue(number: number, value: 0 | 1): void {
    writeFileSync(join(this.root, `gpio${number}`, 'value'), `${value}\n`);
  }

  #tick(): void {
    for (const file of ['export', 'unexport'] as const) {
      const path = join(this.root, file);
      const stamp = `${statSync(path).mtimeMs}:${readFileSync(path, 'utf8')}`;
      if (this.#seen.get(file) === stamp) continue;
      this.#seen.set(file, stamp);
      const number = Number(readFileSync(path, 'utf8').trim());
      if (!Number.isInteger(number) || readFileSync(path, 'utf8').trim() === '') continue;
      const dir = join(this.root, `gpio${number}`);
      if (file === 'export' && !existsSync(dir)) {
        mkdirSync(dir);
        for (const [name, content] of [
          ['direction', 'in'],
          ['value', '0'],
          ['edge', 'none'],
          ['active_low', '0'],
        ]) {
          writeFileSync(join(dir, name), `${content}\n`);
        }
      }
      if (file === 'unexport') rmSync(dir, { recursive: true, force: true });
    }
  }
}
