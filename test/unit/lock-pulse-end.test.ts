/**
 * A pulse always ends in the safe state (locked): when the write that ends a pulse fails, the output is put in
 * its safe state through the driver's release (the fail-safe path) instead of being left on — a lock standing
 * open because one write failed. Fails against a LineOutput that only ignores the failed write.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LineDriver } from '../../src/gpio/gpio-types.js';
import { LineOutput } from '../../src/gpio/line-output.js';

/** A line whose `off` writes fail while `failOff` is set; its level is what was last driven. */
class FlakyLine implements LineDriver {
  level = 0;
  failOff = true;
  released = false;
  async write(on: boolean): Promise<void> {
    if (!on && this.failOff) throw new Error('EIO writing value');
    this.level = on ? 1 : 0;
  }
  async release(): Promise<void> {
    this.level = 0; // the drivers' release drives the safe state (here: off) and lets go
    this.released = true;
  }
  onFailure(): void {}
}

describe('the end of a pulse', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('ends locked through the fail-safe when the closing write fails, and reports the failure', async () => {
    const line = new FlakyLine();
    const failures: string[] = [];
    const states: boolean[] = [];
    const lock = new LineOutput('door_lock', line, {
      safe: false,
      onState: (_n, on) => states.push(on),
      onFailure: (name, err) => failures.push(`${name}: ${err.message}`),
    });
    await lock.pulse(3000);
    expect(line.level).toBe(1);
    await vi.advanceTimersByTimeAsync(3000);
    expect(line.level).toBe(0);
    expect(line.released).toBe(true);
    expect(lock.state).toBe(false);
    expect(states).toEqual([true, false]);
    expect(failures).toEqual([
      'door_lock: the end of a pulse could not be driven (EIO writing value); put in its safe state',
    ]);
    // Nothing opens it again until the daemon restarts and takes the line anew.
    await expect(lock.pulse(3000)).rejects.toThrow(/closed/);
  });

  it('ends normally when the closing write works', async () => {
    const line = new FlakyLine();
    line.failOff = false;
    const lock = new LineOutput('door_lock', line, { safe: false });
    await lock.pulse(3000);
    await vi.advanceTimersByTimeAsync(3000);
    expect([line.level, line.released]).toEqual([0, false]);
  });
});
