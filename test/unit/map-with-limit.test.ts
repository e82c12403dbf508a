import { describe, expect, it } from 'vitest';
import { mapWithLimit } from '../../src/concurrency/map-with-limit.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mapWithLimit', () => {
  it('keeps at most `limit` jobs in flight and returns results in item order', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapWithLimit([30, 5, 20, 1, 10, 2], 3, async (ms, i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick(ms);
      inFlight--;
      return `${i}:${ms}`;
    });
    expect(results).toEqual(['0:30', '1:5', '2:20', '3:1', '4:10', '5:2']);
    expect(peak).toBe(3);
  });

  it('rejects with the first failure and starts no new job after it', async () => {
    const started: number[] = [];
    const run = mapWithLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n);
      await tick(5);
      if (n === 2) throw new Error('job 2 failed');
      return n;
    });
    await expect(run).rejects.toThrow('job 2 failed');
    await tick(30);
    expect(started.length).toBeLessThan(6);
  });

  it('an empty list resolves at once', async () => {
    expect(await mapWithLimit([], 4, async () => 1)).toEqual([]);
  });
});
