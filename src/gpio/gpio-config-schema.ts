/**
 * The `gpio:` section of the configuration. Lines are named (the name is the MQTT topic level
 * `gpio/<name>/…` and what rules refer to) and addressed by chip label + offset, never by a global
 * number, because numbers differ between boards and kernels.
 *
 * ```yaml
 * gpio:
 *   backend: auto            # auto | libgpiod | sysfs
 *   chip: pinctrl-rp1        # default chip label; absent: the first known header chip found
 *   outputs:
 *     door_lock: { line: 17, safe: off, lock: true, unlock_ms: 3000 }
 *     led: { line: 27 }
 *   inputs:
 *     pir: { line: 4, bias: pull-down, debounce_ms: 100 }
 * ```
 */
import { z } from 'zod';
import { bool, num } from '../schema/schema-helpers.js';

/** GPIO names are MQTT topic levels; checked in the section refinement so the message names the key. */
const LINE_NAME = /^[A-Za-z0-9_-]+$/;

/** A chip label as gpiodetect / sysfs show it (`pinctrl-rp1`, `tegra234-gpio`). */
const chipLabel = z.string().regex(/^[\w.:-]+$/, 'a chip label (as gpiodetect prints it between brackets)');

const lineAddress = {
  /** Chip label; default `gpio.chip`, else the first known header chip present. */
  chip: chipLabel.optional(),
  /** Offset of the line on its chip (on a Raspberry Pi: the BCM number, e.g. 17 for header pin 11). */
  line: num(z.number().int().min(0).max(1023)),
  /** The line is active (on) at the low electrical level. Default false. */
  active_low: bool().default(false),
};

export const gpioOutputSchema = z.strictObject({
  ...lineAddress,
  /**
   * State at start, on stop, on crash and when the config is lost: `off` (default) or `on`. A lock
   * relay wired so that unpowered = locked is `off`. Wire the board's pull resistor to match: it is
   * what holds the line while nothing drives it.
   */
  safe: z.enum(['off', 'on']).default('off'),
  /** Shown in Home Assistant as a lock (locked = off) instead of a switch. Default false. */
  lock: bool().default(false),
  /** With `lock`: unlocking pulses the line for this long, ms, instead of leaving it on. */
  unlock_ms: num(z.number().int().min(1).max(3_600_000)).optional(),
  /** Longest pulse accepted from MQTT or rules, ms. Default 60 000. */
  max_pulse_ms: num(z.number().int().min(1).max(3_600_000)).default(60_000),
  /** Friendly name in Home Assistant. Default: the output's key. */
  title: z.string().min(1).optional(),
});

export const gpioInputSchema = z.strictObject({
  ...lineAddress,
  /** Pull resistor: `as-is` (default), `disabled`, `pull-up`, `pull-down`. sysfs cannot set it. */
  bias: z.enum(['as-is', 'disabled', 'pull-up', 'pull-down']).default('as-is'),
  /** Edges reported as events: `rising`, `falling` or `both` (default). */
  edge: z.enum(['rising', 'falling', 'both']).default('both'),
  /** A new level must hold this long to count, ms. Default 50. */
  debounce_ms: num(z.number().int().min(0).max(60_000)).default(50),
  /** sysfs only: time between reads of the value file, ms. Default 10. */
  poll_ms: num(z.number().int().min(1).max(1000)).default(10),
  /** Home Assistant binary_sensor device class. Default `motion`. */
  device_class: z
    .string()
    .regex(/^[a-z_]+$/)
    .default('motion'),
  /** Friendly name in Home Assistant. Default: the input's key. */
  title: z.string().min(1).optional(),
});

export const gpioSchema = z
  .strictObject({
    /** `auto` (default): the libgpiod tools when a /dev/gpiochip* and gpioset exist, else sysfs. */
    backend: z.enum(['auto', 'libgpiod', 'sysfs']).default('auto'),
    /** Default chip label of every line. */
    chip: chipLabel.optional(),
    /** Root of the sysfs GPIO class. Default `/sys/class/gpio`. */
    sysfs_root: z.string().min(1).default('/sys/class/gpio'),
    outputs: z.record(z.string(), gpioOutputSchema).default({}),
    inputs: z.record(z.string(), gpioInputSchema).default({}),
  })
  .superRefine((gpio, ctx) => {
    // Outputs and inputs share the gpio/<name>/… topics, and two names must not drive one line.
    const seen = new Map<string, string>();
    for (const [kind, lines] of [
      ['outputs', gpio.outputs],
      ['inputs', gpio.inputs],
    ] as const) {
      for (const [name, line] of Object.entries(lines)) {
        if (!LINE_NAME.test(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [kind, name],
            message: `"${name}": GPIO names may only contain letters, digits, "_" and "-" (they are MQTT topic levels)`,
          });
        }
        if (kind === 'inputs' && name in gpio.outputs) {
          ctx.addIssue({ code: 'custom', path: [kind, name], message: `"${name}" is both an output and an input` });
        }
        const key = `${line.chip ?? gpio.chip ?? '(default chip)'}/${line.line}`;
        const other = seen.get(key);
        if (other)
          ctx.addIssue({ code: 'custom', path: [kind, name, 'line'], message: `line ${key} is also used by ${other}` });
        else seen.set(key, `${kind}.${name}`);
      }
    }
    for (const [name, out] of Object.entries(gpio.outputs)) {
      if (out.unlock_ms !== undefined && !out.lock) {
        ctx.addIssue({
          code: 'custom',
          path: ['outputs', name, 'unlock_ms'],
          message: 'unlock_ms applies only with lock: true',
        });
      }
      if (out.unlock_ms !== undefined && out.unlock_ms > out.max_pulse_ms) {
        ctx.addIssue({
          code: 'custom',
          path: ['outputs', name, 'unlock_ms'],
          message: 'unlock_ms exceeds max_pulse_ms',
        });
      }
    }
  });

export type GpioConfig = z.output<typeof gpioSchema>;
export type GpioOutputConfig = GpioConfig['outputs'][string];
export type GpioInputConfig = GpioConfig['inputs'][string];
