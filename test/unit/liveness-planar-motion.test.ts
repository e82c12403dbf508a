/**
 * The temporal liveness evidence on synthetic keypoint tracks: a 3-D head model turned in front of a pinhole
 * camera against the same points flattened onto a card (a photo of that head) moved the same way.
 */
import { describe, expect, it } from 'vitest';
import {
  foreshortening,
  noseInFaceFrame,
  planarMotionEvidence,
  PLANAR_MOTION_DEFAULTS,
  type KeypointSample,
} from '../../src/liveness/planar-motion.js';
import type { FaceKeypoints } from '../../src/vision/face.js';

type Vec3 = [number, number, number];
/** Keypoints of an average adult head, mm: x to the image's right, y down, z towards the camera. */
const HEAD: Record<keyof FaceKeypoints, Vec3> = {
  rightEye: [-32, 0, 0],
  leftEye: [32, 0, 0],
  noseTip: [0, 38, 28],
  mouth: [0, 72, 6],
  rightEar: [-72, 22, -85],
  leftEar: [72, 22, -85],
};
const FLAT = Object.fromEntries(Object.entries(HEAD).map(([k, [x, y]]) => [k, [x, y, 0]])) as typeof HEAD;

/** The points turned by yaw then pitch (degrees) and seen from 600 mm with a 500 px focal length. */
function project(points: typeof HEAD, yawDeg: number, pitchDeg: number, shiftX = 0): FaceKeypoints {
  const [yaw, pitch] = [(yawDeg * Math.PI) / 180, (pitchDeg * Math.PI) / 180];
  const out: Record<string, { x: number; y: number }> = {};
  for (const [name, [x, y, z]] of Object.entries(points)) {
    const x1 = x * Math.cos(yaw) + z * Math.sin(yaw);
    const z1 = -x * Math.sin(yaw) + z * Math.cos(yaw);
    const y2 = y * Math.cos(pitch) - z1 * Math.sin(pitch);
    const z2 = y * Math.sin(pitch) + z1 * Math.cos(pitch);
    const depth = 600 - z2;
    out[name] = { x: 320 + (500 * x1) / depth + shiftX, y: 200 + (500 * y2) / depth };
  }
  return out as unknown as FaceKeypoints;
}

function track(points: typeof HEAD, poses: [number, number][], stepMs = 200): KeypointSample[] {
  return poses.map(([yaw, pitch], i) => ({
    timeMs: i * stepMs,
    box: { x: 250, y: 150, width: 130, height: 130 },
    keypoints: project(points, yaw, pitch, i * 3),
  }));
}

const TURN: [number, number][] = Array.from({ length: 12 }, (_, i) => [-35 + (70 * i) / 11, 8 * Math.sin(i)]);

describe('planarMotionEvidence', () => {
  it('calls a head that turns live', () => {
    const r = planarMotionEvidence(track(HEAD, TURN));
    expect(r.verdict).toBe('live');
    expect(r.parallax).toBeGreaterThan(PLANAR_MOTION_DEFAULTS.liveParallax);
    expect(r.samples).toBe(12);
  });

  it('calls a photo of the same head, turned the same way, planar', () => {
    const r = planarMotionEvidence(track(FLAT, TURN));
    expect(r.verdict).toBe('planar');
    expect(r.parallax).toBeLessThan(0.01); // perspective alone: a few thousandths of the axes
    expect(r.turn).toBeGreaterThan(PLANAR_MOTION_DEFAULTS.minTurn);
  });

  it('says insufficient, never live, for a face that does not turn, head or photo', () => {
    const still: [number, number][] = Array.from({ length: 12 }, () => [0, 0]);
    for (const points of [HEAD, FLAT]) {
      const r = planarMotionEvidence(track(points, still));
      expect(r.verdict).toBe('insufficient');
      expect(r.parallax).toBeCloseTo(0, 9);
    }
  });

  it('needs enough samples, spaced in time', () => {
    expect(planarMotionEvidence(track(HEAD, TURN.slice(0, 3)))).toMatchObject({
      verdict: 'insufficient',
      parallax: null,
      samples: 3,
    });
    // 12 frames 20 ms apart are two samples once thinned to 150 ms: no verdict, however much they moved.
    expect(planarMotionEvidence(track(HEAD, TURN, 20))).toMatchObject({ verdict: 'insufficient', samples: 2 });
    expect(planarMotionEvidence(track(HEAD, TURN.slice(0, 5))).verdict).toBe('insufficient'); // < minSamples
  });

  it('is not fooled into live by one bad frame of a photo', () => {
    const samples = track(FLAT, TURN);
    const k = samples[5].keypoints;
    samples[5] = { ...samples[5], keypoints: { ...k, noseTip: { x: k.noseTip.x + 60, y: k.noseTip.y } } };
    expect(planarMotionEvidence(samples).verdict).not.toBe('live');
  });

  it('ignores sample order and samples with non-finite keypoints', () => {
    const samples = track(HEAD, TURN);
    const shuffled = [...samples].reverse();
    expect(planarMotionEvidence(shuffled)).toEqual(planarMotionEvidence(samples));
    const broken = { ...samples[0], timeMs: -100, keypoints: { ...samples[0].keypoints, mouth: { x: NaN, y: 1 } } };
    expect(planarMotionEvidence([broken, ...samples])).toEqual(planarMotionEvidence(samples));
  });

  it('keeps only the latest maxSamples', () => {
    const r = planarMotionEvidence(track(HEAD, TURN), { maxSamples: 6 });
    expect(r.samples).toBe(6);
  });
});

describe('face frame', () => {
  it('gives the nose affine coordinates in the eyes-mouth frame', () => {
    const k = project(HEAD, 0, 0);
    const at = (along: number, down: number) => ({
      x: k.rightEye.x + along * (k.leftEye.x - k.rightEye.x) + down * (k.mouth.x - k.rightEye.x),
      y: k.rightEye.y + along * (k.leftEye.y - k.rightEye.y) + down * (k.mouth.y - k.rightEye.y),
    });
    const nose = noseInFaceFrame({ ...k, noseTip: at(0.3, 0.4) });
    expect(nose?.along).toBeCloseTo(0.3, 9);
    expect(nose?.down).toBeCloseTo(0.4, 9);
    expect(foreshortening(project(FLAT, 0, 0))).toBeCloseTo(Math.log(64 / 72), 9);
  });

  it('refuses a degenerate frame (eyes and mouth on one line)', () => {
    const k = project(HEAD, 0, 0);
    expect(noseInFaceFrame({ ...k, mouth: { x: k.leftEye.x + 40, y: k.leftEye.y } })).toBeNull();
  });
});
