/**
 * The legacy sysfs GPIO ABI (`/sys/class/gpio`), done with plain file writes: `export`/`unexport`, and
 * per line `direction`, `value`, `edge`, `active_low`. The `onoff` package wraps the same files but
 * needs a native addon (epoll) that does not build with `ignore-scripts`, and it hard-codes the root;
 * here the root is configurable so tests run against an emulated tree.
 *
 * Chips are found by label (`<root>/gpiochip<base>/label`): since kernel 6.x the global numbers start
 * at 512 or are allocated dynamically, so line numbers are computed as base + offset, never configured.
 */
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { FaceedgeError } from '../errors.js';

/** Default root of the sysfs GPIO class. */
export const SYSFS_GPIO_ROOT = '/sys/class/gpio';

/** A chip as sysfs shows it. */
export interface SysfsChip {
  readonly label: string;
  /** Global number of its line 0. */
  readonly base: number;
  readonly ngpio: number;
}

async function readTrimmed(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

/** Every chip under `root`. */
export async function listSysfsChips(root: string): Promise<SysfsChip[]> {
  const names = (await readdir(root)).filter((n) => /^gpiochip\d+$/.test(n));
  const chips: SysfsChip[] = [];
  for (const name of names) {
    const dir = join(root, name);
    chips.push({
      label: await readTrimmed(join(dir, 'label')),
      base: Number(await readTrimmed(join(dir, 'base'))),
      ngpio: Number(await readTrimmed(join(dir, 'ngpio'))),
    });
  }
  return chips.sort((a, b) => a.base - b.base);
}

/**
 * The global sysfs number of `offset` on the chip labelled `label`.
 * @throws FaceedgeError GPIO_UNAVAILABLE when no chip has the label or the offset is past its lines.
 */
export async function sysfsLineNumber(root: string, label: string, offset: number): Promise<number> {
  let chips: SysfsChip[];
  try {
    chips = await listSysfsChips(root);
  } catch (err) {
    throw new FaceedgeError('GPIO_UNAVAILABLE', `cannot list GPIO chips under ${root}`, {
      cause: err,
      hint: 'this kernel may not offer the sysfs GPIO interface; use gpio.backend: libgpiod',
    });
  }
  const chip = chips.find((c) => c.label === label);
  if (!chip) {
    const present = chips.map((c) => `${c.label} (base ${c.base})`).join(', ') || 'none';
    throw new FaceedgeError('GPIO_UNAVAILABLE', `no GPIO chip labelled "${label}" under ${root}`, {
      hint: `chips present: ${present}`,
    });
  }
  if (offset >= chip.ngpio) {
    throw new FaceedgeError('GPIO_UNAVAILABLE', `line ${offset} is past the ${chip.ngpio} lines of ${label}`);
  }
  return chip.base + offset;
}

/** One exported line. */
export class SysfsLine {
  readonly dir: string;

  private constructor(
    readonly root: string,
    readonly number: number,
  ) {
    this.dir = join(root, `gpio${number}`);
  }

  /**
   * Exports line `number` (an already exported line is taken over) and waits until its files are
   * writable: udev fixes their group and mode a moment after the export, so the first write can fail.
   * @param waitMs how long to wait for the files, ms. Default 2000.
   */
  static async export(root: string, number: number, waitMs = 2000): Promise<SysfsLine> {
    const line = new SysfsLine(root, number);
    if (!(await line.#writable('value'))) {
      try {
        await writeFile(join(root, 'export'), String(number));
      } catch (err) {
        // EBUSY: exported meanwhile (or by an earlier run); anything else is reported below.
        if ((err as NodeJS.ErrnoException).code !== 'EBUSY') {
          throw new FaceedgeError('GPIO_FAILED', `cannot export GPIO ${number} under ${root}`, {
            cause: err,
            hint: 'is the user in the gpio group?',
          });
        }
      }
    }
    const deadline = performance.now() + waitMs;
    while (!(await line.#writable('value')) || !(await line.#writable('direction'))) {
      if (performance.now() > deadline) {
        throw new FaceedgeError(
          'GPIO_FAILED',
          `GPIO ${number} did not become writable under ${root} within ${waitMs} ms`,
          { hint: 'check the udev rules and that the user is in the gpio group' },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return line;
  }

  /** Writes one attribute file (`value`, `direction`, `edge`, `active_low`). */
  async write(attribute: string, content: string): Promise<void> {
    try {
      await writeFile(join(this.dir, attribute), content);
    } catch (err) {
      throw new FaceedgeError('GPIO_FAILED', `cannot write "${content}" to ${join(this.dir, attribute)}`, {
        cause: err,
      });
    }
  }

  /** The logical value (`active_low` applied by the kernel). */
  async readValue(): Promise<boolean> {
    const text = await readTrimmed(join(this.dir, 'value'));
    if (text === '1') return true;
    if (text === '0') return false;
    throw new FaceedgeError('GPIO_FAILED', `unexpected content "${text}" in ${join(this.dir, 'value')}`);
  }

  /** Hands the line back to the kernel. */
  async unexport(): Promise<void> {
    await writeFile(join(this.root, 'unexport'), String(this.number)).catch(() => {});
  }

  async #writable(attribute: string): Promise<boolean> {
    try {
      await access(join(this.dir, attribute), constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }
}
