/**
 * The libgpiod backend driven through real processes: the stand-in gpioset/gpiomon/gpioget/gpiodetect
 * (test/stand-ins) take the real v1 or v2 syntax over emulated chips, and every check reads the
 * emulated line, never our own objects' idea of it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { GpioBank } from '../../src/gpio/gpio-bank.js';
import { gpioSchema } from '../../src/gpio/gpio-config-schema.js';
import type { GpioInputEvent } from '../../src/gpio/gpio-types.js';
import { detectLibgpiod } from '../../src/gpio/libgpiod-tools.js';
import { silentLogger } from '../../src/observability/logger.js';
import { EmulatedGpio, waitUntil } from '../helpers/emulated-gpio.js';

/** The Pi 5 layout that makes numbers lie: the header chip is not gpiochip0 on older kernels. */
const CHIPS = [
  { name: 'gpiochip0', label: 'gpio-brcmstb@107d508500', lines: 32 },
  { name: 'gpiochip4', label: 'pinctrl-rp1', lines: 54 },
];
const RP1 = 'gpiochip4';

const VARIANTS = [
  { title: 'v1 (1.6.3)', version: '1.6.3', interactive: true, expectMajor: 1, expectInteractive: false },
  { title: 'v2 (2.1.3) with -i', version: '2.1.3', interactive: true, expectMajor: 2, expectInteractive: true },
  { title: 'v2 (2.1.3) without -i', version: '2.1.3', interactive: false, expectMajor: 2, expectInteractive: false },
] as const;

const banks: GpioBank[] = [];
afterEach(async () => {
  await Promise.allSettled(banks.splice(0).map((b) => b.close()));
});

async function openBank(
  sim: EmulatedGpio,
  gpio: unknown,
  extra: Partial<Parameters<typeof GpioBank.open>[1]> = {},
): Promise<GpioBank> {
  const bank = await GpioBank.open(gpioSchema.parse(gpio), { env: sim.env(), log: silentLogger(), ...extra });
  banks.push(bank);
  return bank;
}

describe.each(VARIANTS)('libgpiod $title', (variant) => {
  const newSim = (release: 'keep' | 'pull' = 'keep') =>
    new EmulatedGpio({ version: variant.version, interactive: variant.interactive, release, chips: CHIPS });

  it('detects the version and the interactive mode from the tools themselves', async () => {
    const tools = await detectLibgpiod(newSim().env());
    expect(tools.major).toBe(variant.expectMajor);
    expect(tools.interactive).toBe(variant.expectInteractive);
    expect(tools.version.startsWith(variant.version.split('.')[0])).toBe(true);
  });

  it('finds the chip by label, starts outputs safe, and applies changes before resolving', async () => {
    const sim = newSim();
    const states: string[] = [];
    const bank = await openBank(
      sim,
      {
        backend: 'libgpiod',
        chip: 'pinctrl-rp1',
        outputs: { relay: { line: 17 }, buzzer: { line: 22, safe: 'on', active_low: true } },
      },
      { onOutputState: (name, on) => states.push(`${name}=${on}`) },
    );
    // Safe states on the wire: relay off (low); buzzer logically on, active-low, so low too.
    expect(sim.level(RP1, 17)).toBe(0);
    expect(sim.level(RP1, 22)).toBe(0);
    expect(sim.holder(RP1, 17)).not.toBeNull();
    expect(sim.holder('gpiochip0', 17)).toBeNull();
    if (variant.expectMajor === 2) expect(sim.consumer(RP1, 17)).toBe('faceedge-relay');

    const relay = bank.output('relay')!;
    await relay.set(true);
    expect(sim.level(RP1, 17)).toBe(1);
    expect(relay.state).toBe(true);
    await relay.set(false);
    expect(sim.level(RP1, 17)).toBe(0);
    await bank.output('buzzer')!.set(false);
    expect(sim.level(RP1, 22)).toBe(1);

    await bank.close();
    expect(sim.level(RP1, 17)).toBe(0);
    expect(sim.level(RP1, 22)).toBe(0);
    expect(sim.holder(RP1, 17)).toBeNull();
    expect(sim.holder(RP1, 22)).toBeNull();
    expect(states.slice(0, 3)).toEqual(['relay=true', 'relay=false', 'buzzer=false']);
    // Closing reports each output's safe state (outputs close in parallel).
    expect(states.slice(3).sort()).toEqual(['buzzer=true', 'relay=false']);
  });

  it('holds a pulse for its length on the line, then turns it off', async () => {
    const sim = newSim();
    const bank = await openBank(sim, { backend: 'libgpiod', outputs: { relay: { line: 5 } } });
    await bank.output('relay')!.pulse(400);
    expect(sim.level(RP1, 5)).toBe(1);
    const drives = () => sim.log(RP1, 5).filter((e) => e.what !== 'release');
    // A log line follows its level change by a moment: wait for the entries themselves.
    await waitUntil(() => drives().some((e) => e.what === '1'), 'the pulse start in the log');
    const on = drives().findIndex((e) => e.what === '1');
    await waitUntil(() => drives().some((e, i) => i > on && e.what === '0'), 'the pulse to end', 5000);
    expect(sim.level(RP1, 5)).toBe(0);
    const log = drives();
    const off = log.findIndex((e, i) => i > on && e.what === '0');
    const widthMs = log[off].timeMs - log[on].timeMs;
    // Never shorter: the countdown starts once the line is confirmed on. Longer by the confirmation and
    // the switch-off: a command to one gpioset (-i), or a gpioset restart (the bash stand-ins take tens
    // to hundreds of ms on a loaded runner; the C tools take a few).
    expect(widthMs).toBeGreaterThanOrEqual(395);
    expect(widthMs).toBeLessThan(400 + (variant.expectInteractive ? 400 : 2000));
  });

  it('refuses a line another process holds, naming the reason, and leaves it alone', async () => {
    const sim = newSim();
    const other = await openBank(sim, { backend: 'libgpiod', outputs: { a: { line: 9 } } });
    await other.output('a')!.set(true);
    const attempt = openBank(sim, { backend: 'libgpiod', outputs: { b: { line: 9 } } });
    await expect(attempt).rejects.toSatisfy(
      (e: unknown) => isFaceedgeError(e, 'GPIO_FAILED') && /busy/i.test((e as Error).message),
    );
    expect(sim.level(RP1, 9)).toBe(1);
  });

  it('reports a missing chip label with the chips that are present', async () => {
    const sim = newSim();
    const attempt = openBank(sim, { backend: 'libgpiod', chip: 'tegra234-gpio', outputs: { relay: { line: 5 } } });
    await expect(attempt).rejects.toSatisfy(
      (e: unknown) => isFaceedgeError(e, 'GPIO_UNAVAILABLE') && /pinctrl-rp1/.test((e as { hint?: string }).hint ?? ''),
    );
  });

  it('debounces input chatter and reports only the configured edges', async () => {
    const sim = newSim();
    sim.drive(RP1, 4, 1);
    const edges: GpioInputEvent[] = [];
    const values: string[] = [];
    const bank = await openBank(
      sim,
      { backend: 'libgpiod', inputs: { pir: { line: 4, edge: 'rising', debounce_ms: 120 } } },
      {
        onInputEdge: (e) => edges.push(e),
        onInputValue: (name, v, initial) => values.push(`${name}=${v}${initial ? ' (initial)' : ''}`),
      },
    );
    const pir = bank.input('pir')!;
    expect(pir.value).toBe(true);
    // gpiomon must be watching before the outside world moves (it requests the line after gpioget).
    await waitUntil(() => sim.holderProgram(RP1, 4) === 'gpiomon', 'gpiomon to hold the line');

    // A 1 ms glitch low: shorter than the debounce, so nothing happens.
    sim.drive(RP1, 4, 0);
    sim.drive(RP1, 4, 1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(pir.value).toBe(true);
    expect(values).toEqual(['pir=true (initial)']);

    // A real fall (bouncing first): one change, but no edge event since only rising is configured.
    const fallAt = performance.now();
    sim.drive(RP1, 4, 0);
    sim.drive(RP1, 4, 1);
    sim.drive(RP1, 4, 0);
    await waitUntil(() => pir.value === false, 'the debounced fall');
    expect(performance.now() - fallAt).toBeGreaterThanOrEqual(115);
    expect(edges).toEqual([]);

    sim.drive(RP1, 4, 1);
    await waitUntil(() => edges.length === 1, 'the rising edge');
    expect(edges[0]).toMatchObject({ name: 'pir', value: true, edge: 'rising' });
    expect(values).toEqual(['pir=true (initial)', 'pir=false', 'pir=true']);

    await bank.close();
    expect(sim.holder(RP1, 4)).toBeNull();
  });
});
