/**
 * A source start with a deadline and a way out: a start that hangs fails after the timeout (and the
 * source is stopped), a stop during the start ends the wait at once, and several stuck starts run side
 * by side without holding each other.
 */
import { describe, expect, it } from 'vitest';
import { startWithin } from '../../src/capture/bounded-start.js';
import type { FrameSource } from '../../src/capture/frame-source.js';
import { isFaceedgeError } from '../../src/errors.js';

/** A source whose start resolves only when told to (or never), recording what it was asked. */
class ScriptedSource implements FrameSource {
  readonly name = 'scripted';
  stops = 0;
  startSignal: AbortSignal | null = null;
  #resolve: (() => void) | null = null;

  readonly #startsAfterMs: number | null;

  constructor(startsAfterMs: number | null) {
    this.#startsAfterMs = startsAfterMs;
  }

  start(signal?: AbortSignal): Promise<void> {
    this.startSignal = signal ?? null;
    return new Promise((resolve) => {
      this.#resolve = resolve;
      if (this.#startsAfterMs !== null) setTimeout(resolve, this.#startsAfterMs);
    });
  }

  async stop(): Promise<void> {
    this.stops++;
    this.#resolve?.();
  }

  stats() {
    return { framesOut: 0, skipped: 0, starts: 0 };
  }
}

describe('startWithin', () => {
  it('resolves started for a source that starts in time', async () => {
    const source = new ScriptedSource(10);
    expect(await startWithin(source, 5000, new AbortController().signal)).toBe('started');
    expect(source.stops).toBe(0);
    expect(source.startSignal?.aborted).toBe(false);
  });

  it('fails a start that hangs with SOURCE_FAILED after the timeout, and stops the source', async () => {
    const source = new ScriptedSource(null);
    const began = performance.now();
    const err = await startWithin(source, 200, new AbortController().signal).catch((e: unknown) => e);
    expect(isFaceedgeError(err, 'SOURCE_FAILED'), String(err)).toBe(true);
    expect((err as Error).message).toBe('scripted did not start within 0.2 s');
    expect(performance.now() - began).toBeGreaterThanOrEqual(190);
    expect(source.stops).toBe(1);
    expect(source.startSignal?.aborted).toBe(true);
  });

  it('gives up at once when the caller stops, aborting the start it gave the source', async () => {
    const source = new ScriptedSource(null);
    const stopping = new AbortController();
    const outcome = startWithin(source, 60_000, stopping.signal);
    setTimeout(() => stopping.abort(), 20);
    const began = performance.now();
    expect(await outcome).toBe('aborted');
    expect(performance.now() - began).toBeLessThan(1000);
    expect(source.startSignal?.aborted).toBe(true);
  });

  it('stuck starts do not hold each other: four in parallel take one timeout, not four', async () => {
    const sources = [0, 1, 2, 3].map(() => new ScriptedSource(null));
    const began = performance.now();
    const results = await Promise.all(
      sources.map((s) => startWithin(s, 300, new AbortController().signal).catch((e: Error) => e.message)),
    );
    expect(results).toEqual(Array(4).fill('scripted did not start within 0.3 s'));
    expect(performance.now() - began).toBeLessThan(1000);
  });

  it('leaves no listener on the caller signal once the start is over', async () => {
    const stopping = new AbortController();
    let listeners = 0;
    const add = stopping.signal.addEventListener.bind(stopping.signal);
    const remove = stopping.signal.removeEventListener.bind(stopping.signal);
    stopping.signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args))) as typeof add;
    stopping.signal.removeEventListener = ((...args: Parameters<typeof remove>) => (
      listeners--,
      remove(...args)
    )) as typeof remove;
    for (let i = 0; i < 20; i++) await startWithin(new ScriptedSource(0), 5000, stopping.signal);
    expect(listeners).toBe(0);
  });
});
