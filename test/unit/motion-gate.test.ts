import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/capture/frame.js';
import { DEFAULT_MOTION_GATE, MotionGate, changedShare } from '../../src/pipeline/motion-gate.js';
import { greyThumbnail } from '../../src/vision/grey-thumbnail.js';

const W = 160;
const H = 90;

/** Deterministic noise in [-1, 1). */
function noise(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  };
}

/** A textured room with per-pixel noise, a brightness gain and optionally a square of `side` px at (x, y). */
function scene(
  frame: number,
  options: { gain?: number; noise?: number; square?: { x: number; y: number; side: number } } = {},
): RgbImage {
  const rnd = noise(frame + 1);
  const data = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inSquare =
        options.square &&
        x >= options.square.x &&
        x < options.square.x + options.square.side &&
        y >= options.square.y &&
        y < options.square.y + options.square.side;
      const base = inSquare ? 20 : 60 + ((x * 7 + y * 3) % 120);
      const v = base * (options.gain ?? 1) + rnd() * (options.noise ?? 3);
      const o = (y * W + x) * 3;
      data[o] = data[o + 1] = data[o + 2] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return { kind: 'rgb', data, width: W, height: H };
}

describe('grey thumbnail', () => {
  it('is 32 wide with the frame aspect ratio, and averages cells', () => {
    const t = greyThumbnail(scene(0, { noise: 0, gain: 0 }));
    expect([t.width, t.height]).toEqual([32, 18]);
    expect(Math.max(...t.data)).toBe(0);
    const white: RgbImage = { kind: 'rgb', data: Buffer.alloc(W * H * 3, 255), width: W, height: H };
    expect(Math.min(...greyThumbnail(white).data)).toBeCloseTo(255, 3);
  });

  it('keeps frames smaller than the thumbnail at their own size', () => {
    const tiny: RgbImage = { kind: 'rgb', data: Buffer.alloc(8 * 6 * 3, 10), width: 8, height: 6 };
    const t = greyThumbnail(tiny);
    expect([t.width, t.height]).toEqual([8, 6]);
  });
});

describe('MotionGate', () => {
  const FRAME_MS = 1000 / 15;

  it('on an unchanged still scene, runs the detector on the first frame and then only every UNCHANGED_RECHECK_MS', () => {
    const gate = new MotionGate();
    const runs: number[] = [];
    for (let i = 0; i < 180; i++) if (gate.decide(scene(i), false, i * FRAME_MS).detect) runs.push(i);
    // 12 s at 15 fps, sensor noise only: frame 0, then one re-check per 5 s.
    expect(runs).toEqual([0, 75, 150]);
  });

  it('runs the keep-alive detection (every keepalive_ms) while the picture changes too little to be motion', () => {
    const gate = new MotionGate();
    const runs: number[] = [];
    // A small object (far below min_area) drifts slowly across the frame: a distant face walking in.
    for (let i = 0; i < 45; i++) {
      const d = gate.decide(scene(i, { square: { x: 20 + i, y: 40, side: 4 } }), false, i * FRAME_MS);
      if (d.changed !== null) expect(d.changed).toBeLessThan(DEFAULT_MOTION_GATE.minArea);
      if (d.detect) runs.push(i);
    }
    expect(runs[0]).toBe(0);
    expect(runs.length).toBeGreaterThanOrEqual(8);
    expect(runs.length).toBeLessThanOrEqual(10);
    for (let k = 1; k < runs.length; k++)
      expect((runs[k] - runs[k - 1]) * FRAME_MS).toBeGreaterThanOrEqual(DEFAULT_MOTION_GATE.keepaliveMs);
  });

  it('does not take lighting flicker for motion', () => {
    const gate = new MotionGate({ keepaliveMs: 1e9 });
    gate.decide(scene(0), false, 0);
    for (let i = 1; i < 30; i++) {
      const d = gate.decide(scene(i, { gain: 1 + 0.06 * Math.sin(i) }), false, i * FRAME_MS);
      expect(d.detect, `frame ${i}`).toBe(false);
      expect(d.changed).toBeLessThan(DEFAULT_MOTION_GATE.minArea);
    }
  });

  it('runs the detector on every frame while something the size of a face moves', () => {
    const gate = new MotionGate({ keepaliveMs: 1e9 });
    for (let i = 0; i < 10; i++) gate.decide(scene(i), false, i * FRAME_MS);
    for (let i = 10; i < 20; i++) {
      const d = gate.decide(scene(i, { square: { x: 10 + (i - 10) * 8, y: 30, side: 20 } }), false, i * FRAME_MS);
      expect(d.detect, `frame ${i}`).toBe(true);
      expect(d.changed).toBeGreaterThanOrEqual(DEFAULT_MOTION_GATE.minArea);
    }
  });

  it('ignores a change smaller than min_area, and sees it with a smaller min_area', () => {
    const still = new MotionGate({ keepaliveMs: 1e9 });
    const sensitive = new MotionGate({ keepaliveMs: 1e9, minArea: 0.001 });
    for (let i = 0; i < 5; i++) {
      still.decide(scene(i), false, i * FRAME_MS);
      sensitive.decide(scene(i), false, i * FRAME_MS);
    }
    // A 5 px square: one thumbnail cell of 576 at most two.
    const dot = scene(5, { square: { x: 80, y: 40, side: 5 } });
    expect(still.decide(dot, false, 5 * FRAME_MS).detect).toBe(false);
    expect(sensitive.decide(dot, false, 5 * FRAME_MS).detect).toBe(true);
  });

  it('always runs while a track is open, and relearns the background afterwards', () => {
    const gate = new MotionGate({ keepaliveMs: 1e9 });
    gate.decide(scene(0), false, 0);
    expect(gate.decide(scene(1), false, FRAME_MS).detect).toBe(false);
    for (let i = 2; i < 6; i++)
      expect(gate.decide(scene(i), true, i * FRAME_MS)).toEqual({ detect: true, changed: null });
    // A different scene once the track has ended: first frame builds the background (and detects), then still.
    const moved = (i: number) => scene(i, { square: { x: 0, y: 0, side: 60 } });
    expect(gate.decide(moved(6), false, 6 * FRAME_MS)).toEqual({ detect: true, changed: null });
    expect(gate.decide(moved(7), false, 7 * FRAME_MS).detect).toBe(false);
  });

  it('while still, decodes one frame per check_interval_ms; after motion, every frame for hold_ms', () => {
    const gate = new MotionGate({ keepaliveMs: 1e9, checkIntervalMs: 200 });
    const at = (i: number) => i * 50; // a 20 fps camera
    const looked: number[] = [];
    const feed = (i: number, image: () => RgbImage) => {
      if (!gate.wantsFrame('idle', at(i))) return;
      looked.push(i);
      gate.decide(image(), false, at(i));
    };
    for (let i = 0; i < 40; i++) feed(i, () => scene(i));
    // 2 s, one look per 200 ms: every 4th frame.
    expect(looked).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
    looked.length = 0;
    feed(40, () => scene(40, { square: { x: 40, y: 30, side: 30 } }));
    for (let i = 41; i < 80; i++) feed(i, () => scene(i));
    // Motion at frame 40: every frame for 1 s (frames 40–59), then every 4th again.
    expect(looked.slice(0, 22)).toEqual([...Array.from({ length: 20 }, (_, k) => 40 + k), 63, 67]);
    expect(looked.length).toBeLessThan(30);
    expect(gate.wantsFrame('acquiring', at(80))).toBe(true);
  });

  it('while every tracked face is confirmed, looks at one frame per tracked_interval_ms; while acquiring, at every frame', () => {
    const gate = new MotionGate({ trackedIntervalMs: 100 });
    const at = (i: number) => i * FRAME_MS; // 15 fps
    const looked = (state: 'acquiring' | 'steady', from: number, to: number) => {
      const seen: number[] = [];
      for (let i = from; i < to; i++) {
        if (!gate.wantsFrame(state, at(i))) continue;
        seen.push(i);
        gate.decide(scene(i), true, at(i));
      }
      return seen;
    };
    expect(looked('acquiring', 0, 5)).toEqual([0, 1, 2, 3, 4]);
    // 100 ms at 15 fps: every other frame (7.5 a second).
    expect(looked('steady', 5, 15)).toEqual([6, 8, 10, 12, 14]);
    expect(new MotionGate({ trackedIntervalMs: 0 }).wantsFrame('steady', 0)).toBe(true);
  });

  it('changedShare compensates a global gain exactly', () => {
    const t = greyThumbnail(scene(0, { noise: 0 }));
    const brighter = greyThumbnail(scene(0, { noise: 0, gain: 1.2 }));
    expect(changedShare(brighter, t.data, 3)).toBeLessThan(0.05);
  });
});
