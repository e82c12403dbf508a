/**
 * The libgpiod command-line tools as faceedge uses them: which major version is installed (v1 and v2
 * take different arguments and print different formats), whether its gpioset was built with the
 * interactive mode, which chip carries a label, and the exact argument lists for each job.
 *
 * Version differences that matter here (libgpiod 1.6 vs 2.x sources):
 * - v1 names the chip positionally (`gpioset <chip> 17=1`); v2 needs `-c <chip>`, otherwise `17` is a
 *   line *name*. v1 also accepts a chip label there, v2 does not, so both get the name from gpiodetect.
 * - v1 gpioset exits at once unless `--mode=signal|wait|time`; v2 holds the line until signalled, and
 *   `-t 0` makes it set and exit. v2's `-i` (only in builds with libedit) reads commands from stdin.
 * - bias spelling: v1 `disable`, v2 `disabled`; v1 `-B`, v2 `-b`.
 * - gpiomon `%e`: v1 prints 1 rising / 0 falling, v2 1 rising / 2 falling. v1 block-buffers its output
 *   on a pipe unless `-b` (line-buffered) is given.
 */
import { execFile } from 'node:child_process';
import { FaceedgeError } from '../errors.js';
import type { GpioBias } from './gpio-types.js';

/** What is installed. */
export interface LibgpiodTools {
  /** 1 or 2. */
  readonly major: 1 | 2;
  /** Full version string (`1.6.3`). */
  readonly version: string;
  /** v2 gpioset built with `-i` (interactive) support. Always false for v1. */
  readonly interactive: boolean;
}

/** A chip as gpiodetect lists it. */
export interface GpioChipInfo {
  /** Device name (`gpiochip4`), what the tools take. */
  readonly name: string;
  readonly label: string;
  readonly lines: number;
}

/** Runs a tool and resolves with its stdout; rejects with a GPIO_UNAVAILABLE error carrying stderr. */
export function runTool(
  program: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 5000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, [...args], { env, timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new FaceedgeError(
          'GPIO_UNAVAILABLE',
          `${program} ${args.join(' ')} failed: ${stderr.trim() || error.message}`,
          {
            cause: error,
            hint: missing ? 'install the libgpiod tools (Debian/Ubuntu/Raspberry Pi OS package "gpiod")' : undefined,
          },
        ),
      );
    });
  });
}

/** Parses `gpioset --version` output (`gpioset (libgpiod) v1.6.3`). */
export function parseLibgpiodVersion(text: string): { major: 1 | 2; version: string } {
  const match = /\(libgpiod\) v(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  const major = match ? Number(match[1]) : NaN;
  if (major !== 1 && major !== 2) {
    throw new FaceedgeError('GPIO_UNAVAILABLE', `unsupported libgpiod tools version: ${text.split('\n')[0] ?? ''}`, {
      hint: 'faceedge drives libgpiod 1.x and 2.x command-line tools',
    });
  }
  return { major, version: match![0].slice('(libgpiod) v'.length) };
}

/** Asks the installed gpioset for its version and, for v2, whether it has the interactive mode. */
export async function detectLibgpiod(env: NodeJS.ProcessEnv): Promise<LibgpiodTools> {
  const { major, version } = parseLibgpiodVersion(await runTool('gpioset', ['--version'], env));
  // The help text lists -i only when gpioset was built with libedit (GPIOSET_INTERACTIVE).
  const interactive = major === 2 && /--interactive/.test(await runTool('gpioset', ['--help'], env));
  return { major, version, interactive };
}

/** Parses gpiodetect output: `gpiochip0 [pinctrl-bcm2711] (58 lines)` per line (same in v1 and v2). */
export function parseGpiodetect(text: string): GpioChipInfo[] {
  const chips: GpioChipInfo[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\S+) \[(.*)\] \((\d+) lines\)$/.exec(line.trim());
    if (match) chips.push({ name: match[1], label: match[2], lines: Number(match[3]) });
  }
  return chips;
}

/**
 * The chip named by `id`: its label (`pinctrl-rp1`, `tegra234-gpio`), which is stable across boards and
 * kernels while chip numbers are not (the Pi 5's RP1 moved from gpiochip4 to gpiochip0), or its name.
 * @throws FaceedgeError GPIO_UNAVAILABLE listing the chips present when none matches.
 */
export function pickChip(chips: readonly GpioChipInfo[], id: string): GpioChipInfo {
  const found = chips.find((c) => c.label === id) ?? chips.find((c) => c.name === id);
  if (found) return found;
  const present = chips.map((c) => `${c.name} [${c.label}]`).join(', ') || 'none';
  throw new FaceedgeError('GPIO_UNAVAILABLE', `no GPIO chip labelled "${id}"`, {
    hint: `chips present: ${present}; set gpio.chip (or the line's chip) to one of these labels`,
  });
}

/** Runs gpiodetect and picks the chip labelled (or named) `id`. */
export async function findChip(id: string, env: NodeJS.ProcessEnv): Promise<GpioChipInfo> {
  return pickChip(parseGpiodetect(await runTool('gpiodetect', [], env)), id);
}

/** Per-line settings the argument builders need. */
export interface ToolLine {
  /** Chip device name from gpiodetect (`gpiochip0`). */
  readonly chip: string;
  readonly offset: number;
  readonly activeLow: boolean;
  /** Consumer label shown by gpioinfo (v2 only; v1 tools always say their own name). */
  readonly consumer: string;
}

function biasArgs(tools: LibgpiodTools, bias: GpioBias): string[] {
  if (bias === 'as-is') return [];
  if (tools.major === 1) return ['-B', bias === 'disabled' ? 'disable' : bias];
  return ['-b', bias];
}

/** Leading gpioset arguments that hold a line until signalled; the `<offset>=<value>` token goes last. */
export function holdArgs(tools: LibgpiodTools, line: ToolLine): string[] {
  const low = line.activeLow ? ['-l'] : [];
  if (tools.major === 1) return ['--mode=signal', ...low, line.chip];
  return ['-c', line.chip, '-C', line.consumer, ...low];
}

/** Leading gpioset arguments that set a line and exit (releasing it). */
export function oneShotArgs(tools: LibgpiodTools, line: ToolLine): string[] {
  const low = line.activeLow ? ['-l'] : [];
  if (tools.major === 1) return ['--mode=exit', ...low, line.chip];
  return ['-c', line.chip, '-C', line.consumer, ...low, '-t', '0'];
}

/** gpioget arguments reading one line's logical value. */
export function getArgs(tools: LibgpiodTools, line: ToolLine, bias: GpioBias): string[] {
  const low = line.activeLow ? ['-l'] : [];
  if (tools.major === 1) return [...low, ...biasArgs(tools, bias), line.chip, String(line.offset)];
  return [...low, ...biasArgs(tools, bias), '-c', line.chip, '-C', line.consumer, String(line.offset)];
}

/** Parses gpioget output for one line: v1 `1`, v2 `"17"=active` (or `1` with --numeric). */
export function parseGetOutput(text: string): boolean {
  const word = text.trim().split(/\s+/)[0] ?? '';
  const value = word.includes('=') ? word.slice(word.lastIndexOf('=') + 1) : word;
  if (value === '1' || value === 'active') return true;
  if (value === '0' || value === 'inactive') return false;
  throw new FaceedgeError('GPIO_FAILED', `cannot read a line value from gpioget output "${text.trim()}"`);
}

/**
 * gpiomon arguments watching both edges of one line (faceedge filters edges after debouncing, so the
 * value stays known), one event per output line in a fixed format.
 */
export function monitorArgs(tools: LibgpiodTools, line: ToolLine, bias: GpioBias): string[] {
  const low = line.activeLow ? ['-l'] : [];
  if (tools.major === 1)
    return ['-b', ...low, ...biasArgs(tools, bias), '-F', '%e %s %n', line.chip, String(line.offset)];
  return [
    ...low,
    ...biasArgs(tools, bias),
    '-c',
    line.chip,
    '-C',
    line.consumer,
    '-e',
    'both',
    '-F',
    '%e %S',
    String(line.offset),
  ];
}

/** Parses one gpiomon line printed with {@link monitorArgs}' format: the new logical value, or null. */
export function parseMonitorLine(tools: LibgpiodTools, text: string): boolean | null {
  const code = text.trim().split(/\s+/)[0];
  if (code === '1') return true;
  if (tools.major === 1 ? code === '0' : code === '2') return false;
  return null;
}
