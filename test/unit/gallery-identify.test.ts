import { describe, expect, it } from 'vitest';
import { emptyGallery, withEnrolment } from '../../src/recognition/gallery-contents.js';
import {
  DEFAULT_IDENTIFY_MARGIN,
  manifestMargin,
  mapInOrder,
  matchEmbedding,
} from '../../src/recognition/gallery-identify.js';
import { cropSharpness, rollDegrees, yawDegrees } from '../../src/recognition/gallery-photo-quality.js';
import type { DetectedFace } from '../../src/vision/face.js';

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
};

/** alice near axis 0, bob near axis 1; a probe between them is close to both. */
const gallery = withEnrolment(
  withEnrolment(emptyGallery({ id: 'm', dimensions: 3 }), 'alice', [unit(1, 0, 0), unit(1, 0.2, 0)]),
  'bob',
  [unit(0, 1, 0)],
);

describe('matchEmbedding', () => {
  it('names the best person when above the threshold and ahead of the second by the margin', () => {
    const m = matchEmbedding(gallery, unit(1, 0.05, 0), { threshold: 0.9, margin: 0.05 });
    expect(m.person).toBe('alice');
    expect(m.similarity).toBeGreaterThan(0.99); // the best of alice's two embeddings
    expect(m.second_similarity).toBeCloseTo(0.05, 2);
  });

  it('nobody below the threshold, or without the margin over the second-best', () => {
    expect(matchEmbedding(gallery, unit(1, 1, 3), { threshold: 0.9 }).person).toBeNull();
    const between = unit(1, 1.2, 0); // 0.779 to alice's second embedding, 0.768 to bob
    const close = matchEmbedding(gallery, between, { threshold: 0.5, margin: 0.05 });
    expect(close.person).toBeNull();
    expect(close.nearest).toBe('alice');
    expect(matchEmbedding(gallery, between, { threshold: 0.5, margin: 0 }).person).toBe('alice');
  });

  it('an empty gallery names nobody; one person has no second similarity', () => {
    expect(matchEmbedding(emptyGallery({ id: 'm', dimensions: 3 }), unit(1, 0, 0), { threshold: 0 })).toEqual({
      person: null,
      similarity: null,
      second_similarity: null,
      nearest: null,
    });
    const one = withEnrolment(emptyGallery({ id: 'm', dimensions: 3 }), 'alice', [unit(1, 0, 0)]);
    expect(matchEmbedding(one, unit(1, 0, 0), { threshold: 0.9 })).toMatchObject({
      person: 'alice',
      second_similarity: null,
    });
  });

  it('the margin comes from the manifest when it names one', () => {
    expect(manifestMargin({ threshold: 0.9, margin: 0.04 })).toBe(0.04);
    expect(manifestMargin({ threshold: 0.9 })).toBe(DEFAULT_IDENTIFY_MARGIN);
    expect(manifestMargin({ margin: 'x' })).toBe(DEFAULT_IDENTIFY_MARGIN);
  });
});

describe('mapInOrder', () => {
  it('yields in input order with at most `limit` jobs running, whatever order they finish in', async () => {
    let running = 0;
    let most = 0;
    const delays = [30, 5, 20, 1, 10, 2, 15];
    const out: number[] = [];
    for await (const v of mapInOrder(delays.keys(), 3, async (i) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, delays[i]));
      running--;
      return i;
    })) {
      out.push(v);
    }
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(3);
  });
});

describe('photo quality', () => {
  const face = (nose: number, leftEyeY = 100): DetectedFace => ({
    box: { x: 50, y: 50, width: 100, height: 100 },
    score: 0.9,
    keypoints: {
      rightEye: { x: 80, y: 100 },
      leftEye: { x: 120, y: leftEyeY },
      noseTip: { x: 100 + nose, y: 120 },
      mouth: { x: 100, y: 140 },
      rightEar: { x: 60, y: 105 },
      leftEar: { x: 140, y: 105 },
    },
  });

  it('yaw: 0 for a centred nose, growing with its offset; roll: the eye line’s angle', () => {
    expect(yawDegrees(face(0))).toBeCloseTo(0);
    expect(yawDegrees(face(24))).toBeCloseTo(45, 0); // 0.6 eye distances off: tan 45° · 0.6
    expect(yawDegrees(face(-24))).toBeCloseTo(-45, 0);
    expect(rollDegrees(face(0, 140))).toBeCloseTo(45);
  });

  it('sharpness: a flat crop is 0, a checkerboard high, a blurred edge in between', () => {
    const side = 16;
    const crop = (f: (x: number, y: number) => number) =>
      Uint8Array.from({ length: side * side * 3 }, (_, i) => f(Math.floor(i / 3) % side, Math.floor(i / 3 / side)));
    expect(
      cropSharpness(
        crop(() => 128),
        side,
      ),
    ).toBe(0);
    const checker = cropSharpness(
      crop((x, y) => ((x + y) % 2) * 255),
      side,
    );
    const ramp = cropSharpness(
      crop((x) => Math.min(255, Math.max(0, (x - 6) * 64))),
      side,
    );
    expect(checker).toBeGreaterThan(ramp);
    expect(ramp).toBeGreaterThan(0);
  });
});
