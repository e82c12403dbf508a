/** The software debounce: a level counts only after holding for the whole period. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Debouncer } from '../../src/gpio/debouncer.js';

describe('Debouncer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function make(periodMs: number) {
    const accepted: boolean[] = [];
    const debouncer = new Debouncer(
      periodMs,
      (value) => accepted.push(value),
      () => Date.now(),
    );
    debouncer.reset(false);
    return { debouncer, accepted };
  }

  it('accepts a level that holds for the period, once', () => {
    const { debouncer, accepted } = make(50);
    debouncer.sample(true);
    vi.advanceTimersByTime(49);
    expect(accepted).toEqual([]);
    debouncer.sample(true); // a repeated report does not restart the wait
    vi.advanceTimersByTime(1);
    expect(accepted).toEqual([true]);
    expect(debouncer.value).toBe(true);
  });

  it('ignores chatter shorter than the period and restarts on every bounce', () => {
    const { debouncer, accepted } = make(50);
    for (let i = 0; i < 10; i++) {
      debouncer.sample(i % 2 === 0);
      vi.advanceTimersByTime(10);
    }
    // Last raw level was false (== stable): nothing changed.
    vi.advanceTimersByTime(200);
    expect(accepted).toEqual([]);
    debouncer.sample(true);
    vi.advanceTimersByTime(30);
    debouncer.sample(false);
    debouncer.sample(true);
    vi.advanceTimersByTime(30);
    expect(accepted).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(accepted).toEqual([true]);
  });

  it('passes every change at once with a zero period, and drops pending ones on cancel', () => {
    const { debouncer, accepted } = make(0);
    debouncer.sample(true);
    debouncer.sample(false);
    expect(accepted).toEqual([true, false]);
    const slow = make(50);
    slow.debouncer.sample(true);
    slow.debouncer.cancel();
    vi.advanceTimersByTime(100);
    expect(slow.accepted).toEqual([]);
  });
});
