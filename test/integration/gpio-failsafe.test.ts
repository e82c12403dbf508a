/**
 * Fail-safe of libgpiod outputs when the process that owns them dies without cleaning up. A child node
 * process (test/helpers/gpio-output-child.ts) opens the outputs through the stand-in tools and drives
 * them away from safe; then it is killed. The emulated chips keep a released output at its last level
 * (as the Raspberry Pi's pinctrl drivers do), so only an active fail-safe brings the line back.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GpioBank } from '../../src/gpio/gpio-bank.js';
import { gpioSchema } from '../../src/gpio/gpio-config-schema.js';
import { silentLogger } from '../../src/observability/logger.js';
import { EmulatedGpio, waitUntil } from '../helpers/emulated-gpio.js';
import { spawnGpioChild } from '../helpers/spawn-gpio-child.js';

const CHIPS = [{ name: 'gpiochip0', label: 'pinctrl-rp1', lines: 54 }];
const CHIP = 'gpiochip0';

const VARIANTS = [
  { title: 'v1', version: '1.6.3', interactive: true },
  { title: 'v2 with -i', version: '2.1.3', interactive: true },
  { title: 'v2 without -i', version: '2.1.3', interactive: false },
] as const;

/** Every process descended from `pid` (what systemd's control group of the daemon would hold). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parentOf) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

describe.each(VARIANTS)('libgpiod $title fail-safe', (variant) => {
  const newSim = () =>
    new EmulatedGpio({ version: variant.version, interactive: variant.interactive, release: 'keep', chips: CHIPS });

  it('returns a relay to safe (off) when the owning process is SIGKILLed mid-pulse', async () => {
    const sim = newSim();
    const gpio = { backend: 'libgpiod', outputs: { relay: { line: 17, safe: 'off' } } };
    const child = await spawnGpioChild({ gpio, output: 'relay', pulseMs: 60_000 }, sim.env());
    expect(sim.level(CHIP, 17)).toBe(1);
    await child.kill('SIGKILL');
    // The last thing driven is the safe level, and the line is released (a restarted daemon can take it).
    const lastDrive = () =>
      sim
        .log(CHIP, 17)
        .filter((e) => e.what !== 'release')
        .at(-1)?.what;
    await waitUntil(
      () => lastDrive() === '0' && sim.holder(CHIP, 17) === null,
      'the relay to return to off and be released',
    );
    expect(sim.level(CHIP, 17)).toBe(0);
  });

  it('returns a safe-on output to on after SIGKILL', async () => {
    const sim = newSim();
    const gpio = { backend: 'libgpiod', outputs: { maglock: { line: 18, safe: 'on' } } };
    const child = await spawnGpioChild({ gpio, output: 'maglock', on: false }, sim.env());
    expect(sim.level(CHIP, 18)).toBe(0);
    await child.kill('SIGKILL');
    await waitUntil(() => sim.level(CHIP, 18) === 1 && sim.holder(CHIP, 18) === null, 'the output to return to on');
  });

  it('ends safe when SIGTERM reaches the daemon and all its helpers at once (systemd control group)', async () => {
    const sim = newSim();
    const gpio = { backend: 'libgpiod', outputs: { relay: { line: 19 } } };
    const child = await spawnGpioChild({ gpio, output: 'relay', on: true }, sim.env());
    expect(sim.level(CHIP, 19)).toBe(1);
    const group = [child.child.pid!, ...descendants(child.child.pid!)];
    expect(group.length).toBeGreaterThanOrEqual(3); // node, the holder sh, gpioset
    for (const pid of group) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    await waitUntil(() => sim.level(CHIP, 19) === 0 && sim.holder(CHIP, 19) === null, 'the relay to end off');
  });

  it('is restored by driveSafe (an ExecStopPost hook) after everything was SIGKILLed at once', async () => {
    const sim = newSim();
    const gpio = { backend: 'libgpiod', outputs: { relay: { line: 20 } } };
    const child = await spawnGpioChild({ gpio, output: 'relay', on: true }, sim.env());
    // Deepest first, so the holder is gone before the daemon's death could wake it.
    for (const pid of [child.child.pid!, ...descendants(child.child.pid!)].reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // A short-lived helper (a one-shot gpioset) may have exited since it was listed.
      }
    }
    await waitUntil(() => sim.holder(CHIP, 20) === null, 'the line to be released');
    // Nothing could react: the Pi-like chip keeps the last level.
    expect(sim.level(CHIP, 20)).toBe(1);
    await GpioBank.driveSafe(gpioSchema.parse(gpio), { env: sim.env(), log: silentLogger() });
    expect(sim.level(CHIP, 20)).toBe(0);
    expect(sim.holder(CHIP, 20)).toBeNull();
  });
});
