/**
 * The sysfs backend against an emulated /sys/class/gpio tree (test/helpers/sysfs-emulator.ts): chip by
 * label with a kernel-6.x base of 512, glitch-free output setup, the fail-safe guard on SIGKILL, input
 * polling with debounce, and backend auto-selection.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { GpioBank, selectGpioBackend } from '../../src/gpio/gpio-bank.js';
import { gpioSchema } from '../../src/gpio/gpio-config-schema.js';
import { silentLogger } from '../../src/observability/logger.js';
import { waitUntil } from '../helpers/emulated-gpio.js';
import { spawnGpioChild } from '../helpers/spawn-gpio-child.js';
import { SysfsEmulator } from '../helpers/sysfs-emulator.js';

const CHIPS = [
  { label: 'pinctrl-bcm2711', base: 512, ngpio: 58 },
  { label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 },
];

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function emulator(): SysfsEmulator {
  const emu = new SysfsEmulator(CHIPS).start();
  cleanups.push(() => emu.stop());
  return emu;
}

async function openBank(
  emu: SysfsEmulator,
  gpio: Record<string, unknown>,
  extra: Partial<Parameters<typeof GpioBank.open>[1]> = {},
): Promise<GpioBank> {
  const config = gpioSchema.parse({ backend: 'sysfs', sysfs_root: emu.root, ...gpio });
  const bank = await GpioBank.open(config, { env: process.env, log: silentLogger(), ...extra });
  cleanups.push(() => bank.close().catch(() => {}));
  return bank;
}

describe('sysfs GPIO backend', () => {
  it('numbers lines from the labelled chip base and sets outputs up at their safe level', async () => {
    const emu = emulator();
    const bank = await openBank(emu, {
      chip: 'pinctrl-bcm2711',
      outputs: {
        relay: { line: 17 },
        maglock: { line: 22, safe: 'on', active_low: true },
        fan: { line: 3, chip: 'raspberrypi-exp-gpio' },
      },
    });
    // relay: 512 + 17; made an output at low in one write ("low"), value logical 0.
    expect(emu.attribute(529, 'direction')).toBe('low');
    expect(emu.attribute(529, 'value')).toBe('0');
    // maglock: safe on, active-low: the raw level for "on" is low, and the logical value is 1.
    expect(emu.attribute(534, 'active_low')).toBe('1');
    expect(emu.attribute(534, 'direction')).toBe('low');
    expect(emu.attribute(534, 'value')).toBe('1');
    expect(emu.exported(573)).toBe(true);

    await bank.output('relay')!.set(true);
    expect(emu.attribute(529, 'value')).toBe('1');
    await bank.close();
    expect(emu.attribute(529, 'value')).toBe('0');
    expect(emu.attribute(534, 'value')).toBe('1');
    // Outputs stay exported so the kernel keeps driving the safe level.
    expect(emu.exported(529)).toBe(true);
  });

  it('writes the safe value when the owning process is SIGKILLed mid-pulse', async () => {
    const emu = emulator();
    const gpio = { backend: 'sysfs', sysfs_root: emu.root, chip: 'pinctrl-bcm2711', outputs: { relay: { line: 17 } } };
    const child = await spawnGpioChild({ gpio, output: 'relay', pulseMs: 60_000 }, process.env);
    cleanups.push(() => child.kill());
    expect(emu.attribute(529, 'value')).toBe('1');
    await child.kill('SIGKILL');
    await waitUntil(() => emu.attribute(529, 'value') === '0', 'the guard to write the safe value');
  });

  it('polls inputs, debounces them, and unexports them on close', async () => {
    const emu = emulator();
    const values: boolean[] = [];
    const bank = await openBank(
      emu,
      { chip: 'pinctrl-bcm2711', inputs: { door: { line: 4, debounce_ms: 150, device_class: 'door' } } },
      { onInputValue: (_name, value) => values.push(value) },
    );
    const door = bank.input('door')!;
    expect(emu.attribute(516, 'direction')).toBe('in');
    expect(door.value).toBe(false);

    emu.setValue(516, 1);
    await new Promise((resolve) => setTimeout(resolve, 40));
    emu.setValue(516, 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(door.value).toBe(false);

    emu.setValue(516, 1);
    await waitUntil(() => door.value === true, 'the debounced rise');
    expect(values).toEqual([false, true]);
    await bank.close();
    await waitUntil(() => !emu.exported(516), 'the input to be unexported');
  });

  it('names the chips present when the label is wrong', async () => {
    const emu = emulator();
    const attempt = openBank(emu, { chip: 'pinctrl-rp1', outputs: { relay: { line: 17 } } });
    await expect(attempt).rejects.toSatisfy(
      (e: unknown) =>
        isFaceedgeError(e, 'GPIO_UNAVAILABLE') && /pinctrl-bcm2711/.test((e as { hint?: string }).hint ?? ''),
    );
  });
});

describe('GPIO backend auto-selection', () => {
  const config = (root: string) => gpioSchema.parse({ sysfs_root: root, outputs: { relay: { line: 17 } } });

  it('prefers the character device, falls back to sysfs, and refuses when neither exists', async () => {
    const emu = new SysfsEmulator(CHIPS);
    const emptyDev = mkdtempSync(join(tmpdir(), 'faceedge-dev-'));
    const dev = mkdtempSync(join(tmpdir(), 'faceedge-dev-'));
    writeFileSync(join(dev, 'gpiochip0'), '');
    mkdirSync(join(dev, 'gpiochipX'));
    expect(await selectGpioBackend(config(emu.root), { env: {}, devDir: dev })).toBe('libgpiod');
    expect(await selectGpioBackend(config(emu.root), { env: {}, devDir: emptyDev })).toBe('sysfs');
    await expect(selectGpioBackend(config('/nonexistent'), { env: {}, devDir: emptyDev })).rejects.toSatisfy(
      (e: unknown) => isFaceedgeError(e, 'GPIO_UNAVAILABLE'),
    );
    expect(await selectGpioBackend(gpioSchema.parse({}), { env: {}, devDir: emptyDev })).toBe('none');
  });
});
