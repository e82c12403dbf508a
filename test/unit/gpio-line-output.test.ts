/** Pulse timing, ordering, failure and fail-safe close of LineOutput over a recording LineDriver. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import type { LineDriver } from '../../src/gpio/gpio-types.js';
import { LineOutput } from '../../src/gpio/line-output.js';

/** Records writes with the fake clock's time; `release` records "release". */
class RecordingDriver implements LineDriver {
  readonly writes: string[] = [];
  failWith: ((error: Error) => void) | null = null;
  async write(on: boolean): Promise<void> {
    this.writes.push(`${Date.now()}:${on ? 1 : 0}`);
  }
  async release(): Promise<void> {
    this.writes.push(`${Date.now()}:release`);
  }
  onFailure(listener: (error: Error) => void): void {
    this.failWith = listener;
  }
}

describe('LineOutput', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('pulses on, then off after the length; a new pulse restarts the countdown', async () => {
    const driver = new RecordingDriver();
    const states: boolean[] = [];
    const out = new LineOutput('relay', driver, { safe: false, onState: (_n, on) => states.push(on) });
    await out.pulse(3000);
    expect(out.state).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    await out.pulse(3000); // at t=2000: off moves to t=5000
    await vi.advanceTimersByTimeAsync(2999);
    expect(out.state).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(out.state).toBe(false);
    expect(driver.writes).toEqual(['0:1', '2000:1', '5000:0']);
    expect(states).toEqual([true, true, false]);
  });

  it('cancels a pulse in progress on set', async () => {
    const driver = new RecordingDriver();
    const out = new LineOutput('relay', driver, { safe: false });
    await out.pulse(1000);
    await out.set(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(out.state).toBe(true);
    expect(driver.writes).toEqual(['0:1', '0:1']);
  });

  it('refuses pulses outside 1..max_pulse_ms', async () => {
    const out = new LineOutput('relay', new RecordingDriver(), { safe: false, maxPulseMs: 5000 });
    for (const ms of [0, -1, 1.5, 5001, Number.NaN]) {
      await expect(out.pulse(ms)).rejects.toSatisfy((e: unknown) => isFaceedgeError(e, 'REQUEST_INVALID'));
    }
    await expect(out.pulse(5000)).resolves.toBeUndefined();
  });

  it('closes after queued changes, reports the safe state, and refuses later changes', async () => {
    const driver = new RecordingDriver();
    const states: boolean[] = [];
    const out = new LineOutput('lock', driver, { safe: true, onState: (_n, on) => states.push(on) });
    void out.set(false);
    await out.pulse(10_000);
    await out.close();
    await vi.advanceTimersByTimeAsync(20_000); // the cancelled pulse must not switch anything
    expect(driver.writes).toEqual(['0:0', '0:1', '0:release']);
    expect(states).toEqual([false, true, true]);
    expect(out.state).toBe(true);
    await expect(out.set(false)).rejects.toSatisfy((e: unknown) => isFaceedgeError(e, 'GPIO_FAILED'));
    await out.close(); // idempotent
    expect(driver.writes.filter((w) => w.endsWith('release'))).toHaveLength(1);
  });

  it('rejects changes once the driver has failed', async () => {
    const driver = new RecordingDriver();
    const failures: string[] = [];
    const out = new LineOutput('relay', driver, {
      safe: false,
      onFailure: (n, e) => failures.push(`${n}: ${e.message}`),
    });
    driver.failWith!(new Error('holder exited'));
    expect(failures).toEqual(['relay: holder exited']);
    await expect(out.set(true)).rejects.toSatisfy(
      (e: unknown) => isFaceedgeError(e, 'GPIO_FAILED') && /holder exited/.test((e as Error).message),
    );
  });
});
