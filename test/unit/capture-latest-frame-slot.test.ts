import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { GifSource } from '../../src/capture/gif-source.js';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { SCENES } from '../helpers/capture-sink.js';

const frame = (seq: number): Frame => ({
  seq,
  timestampMs: seq,
  wallTimeMs: seq,
  image: { kind: 'encoded', data: Buffer.alloc(1, seq), origin: `t#${seq}` },
});

describe('LatestFrameSlot', () => {
  it('keeps only the newest unconsumed frame and counts the replaced ones as dropped', async () => {
    const slot = new LatestFrameSlot();
    slot.put(frame(0));
    slot.put(frame(1));
    slot.put(frame(2));
    expect(slot.stats()).toEqual({ frames_in: 3, dropped: 2, taken: 0 });
    expect((await slot.next())?.seq).toBe(2);
    slot.put(frame(3));
    expect((await slot.next())?.seq).toBe(3);
    expect(slot.stats()).toEqual({ frames_in: 4, dropped: 2, taken: 2 });
  });

  it('hands a frame straight to a waiting consumer without dropping', async () => {
    const slot = new LatestFrameSlot();
    const waiting = slot.next();
    slot.put(frame(7));
    slot.put(frame(8));
    expect((await waiting)?.seq).toBe(7);
    expect(slot.stats()).toEqual({ frames_in: 2, dropped: 0, taken: 1 });
    expect(slot.hasPending).toBe(true);
  });

  it('delivers the pending frame after end(), then null; a waiting consumer gets null', async () => {
    const slot = new LatestFrameSlot();
    const waiting = slot.next();
    slot.end();
    expect(await waiting).toBeNull();
    const slot2 = new LatestFrameSlot();
    slot2.put(frame(1));
    slot2.end();
    slot2.put(frame(2)); // ignored after the end
    expect((await slot2.next())?.seq).toBe(1);
    expect(await slot2.next()).toBeNull();
    expect(slot2.stats().frames_in).toBe(1);
  });

  it('rejects next() with the abort reason', async () => {
    const slot = new LatestFrameSlot();
    const controller = new AbortController();
    const waiting = slot.next(controller.signal);
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    slot.put(frame(1)); // the aborted waiter must not swallow it
    expect((await slot.next())?.seq).toBe(1);
  });

  it('whenEmpty() settles once the consumer took the frame', async () => {
    const slot = new LatestFrameSlot();
    slot.put(frame(1));
    let settled = false;
    const empty = slot.whenEmpty().then(() => (settled = true));
    slot.put(frame(2));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    expect(slot.whenEmpty()).toBe(slot.whenEmpty()); // one shared promise, nothing piles up
    await slot.next();
    await empty;
    expect(settled).toBe(true);
  });

  it('drops frames of a paced source when the consumer is slow, none from an unpaced one', async () => {
    const gif = join(SCENES, 'face-demographics-walking.gif');
    const consume = async (slot: LatestFrameSlot, delayMs: number): Promise<number[]> => {
      const seqs: number[] = [];
      for (let f = await slot.next(); f; f = await slot.next()) {
        seqs.push(f.seq);
        await new Promise((r) => setTimeout(r, delayMs));
      }
      return seqs;
    };

    const paced = new LatestFrameSlot();
    const fast = new GifSource({ path: gif, fps: 200, sink: paced.asSink() });
    await fast.start();
    const pacedSeqs = await consume(paced, 50);
    expect(paced.stats().dropped).toBeGreaterThan(5);
    expect(pacedSeqs.length + paced.stats().dropped).toBe(35);
    expect(pacedSeqs).toEqual([...pacedSeqs].sort((a, b) => a - b));

    const unpaced = new LatestFrameSlot();
    const bench = new GifSource({ path: gif, fps: 0, sink: unpaced.asSink() });
    await bench.start();
    const seqs = await consume(unpaced, 5);
    expect(unpaced.stats()).toEqual({ frames_in: 35, dropped: 0, taken: 35 });
    expect(seqs).toEqual([...Array(35).keys()]);
  });
});
