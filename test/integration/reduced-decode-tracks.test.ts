/**
 * Decoding for the detector (a 1280×720 JPEG decoded at 1.5× the 192×108 letterbox size), cropping faces
 * from a decode of their region, and classifying a tracked face a few times a second must not change what
 * the daemon reports: the demo clips, scaled up to 1280×720 JPEG frames as an MJPEG camera sends them, give
 * the same tracks with the same classes as full decoding with every-frame classification (the build
 * before), boxes in source pixels. Motion gating (live cameras) must not lose a track either. Real
 * BlazeFace, the shipped classifier.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GifComposer } from '../../src/capture/gif-composer.js';
import type { Frame } from '../../src/capture/frame.js';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { FaceClassifier } from '../../src/inference/face-classifier.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { DEFAULT_MOTION_GATE } from '../../src/pipeline/motion-gate.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import { decodeForDetection } from '../../src/vision/decode-for-detection.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const CLASSIFIER = testClassifierPath();
const FRAME_MS = 1000 / 15;

/** Each demo clip's frames as 1280×720 JPEGs (quality 85). */
async function clips(): Promise<Map<string, Buffer[]>> {
  const dir = join(REPO_ROOT, 'demo/clips');
  const out = new Map<string, Buffer[]>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.gif'))
    .sort()) {
    const jpegs: Buffer[] = [];
    for (const frame of GifComposer.fromBuffer(readFileSync(join(dir, file))).frames()) {
      const { data, width, height } = frame.image;
      jpegs.push(
        await sharp(data, { raw: { width, height, channels: 3 } })
          .resize(1280, 720)
          .jpeg({ quality: 85 })
          .toBuffer(),
      );
    }
    out.set(file, jpegs);
  }
  return out;
}

interface TrackSummary {
  readonly class: string;
  readonly box: { x: number; y: number; width: number; height: number };
  /** Frame time the track was first seen, ms. */
  readonly start: number;
}

/**
 * Tracks in the order they started. (Their `end` events come in another order with motion gating: a
 * confirmed face is then looked at 5 times a second, so a face that left is declared gone later.)
 */
function byStart(tracks: TrackSummary[]): TrackSummary[] {
  return [...tracks].sort((a, b) => a.start - b.start);
}

describe.skipIf(!CLASSIFIER)(
  `1280×720 demo clips: reduced decoding and motion gating vs full decoding ${CLASSIFIER ? '' : NO_CLASSIFIER_REASON}`,
  () => {
    let detector: FaceDetector;
    let classifier: FaceClassifier;
    let frames: Map<string, Buffer[]>;

    beforeAll(async () => {
      detector = await FaceDetector.create({ model: 'full' });
      classifier = await FaceClassifier.create({ modelPath: CLASSIFIER! });
      frames = await clips();
    });
    afterAll(async () => {
      await detector?.close();
      await classifier?.close();
    });

    /** Every frame through a fresh pipeline, one at a time; the tracks as their `end` events describe them. */
    async function tracks(
      clip: Buffer[],
      options: { fullDecode?: boolean; gate?: boolean; classifyIntervalMs?: number },
    ): Promise<TrackSummary[]> {
      const events: TrackEvent[] = [];
      const tracker = new FaceTracker({
        camera: 'cam',
        labels: classifier.labels,
        model: classifier.id,
        minFrames: 3,
        maxMissedFrames: 10,
        classifyIntervalMs: options.classifyIntervalMs,
      });
      const pipeline = new Pipeline({
        camera: 'cam',
        slot: new LatestFrameSlot(),
        detector,
        classifier: () => classifier,
        tracker,
        log: silentLogger(),
        minFacePx: 24,
        sink: { events: (_c, e) => void events.push(...e), facePresence: () => undefined },
        fullDecode: options.fullDecode,
        motionGate: options.gate ? DEFAULT_MOTION_GATE : undefined,
      });
      for (let seq = 0; seq < clip.length; seq++) {
        const frame: Frame = {
          seq,
          timestampMs: seq * FRAME_MS,
          wallTimeMs: 1.8e12 + seq * FRAME_MS,
          image: { kind: 'encoded', data: clip[seq], origin: `clip#${seq}` },
        };
        await pipeline.processFrame(frame);
      }
      events.push(...tracker.flush(clip.length * FRAME_MS, 1.8e12 + clip.length * FRAME_MS));
      return byStart(
        events
          .filter((e) => e.type === 'end')
          .map((e) => ({ class: e.after.class, box: e.after.box, start: e.after.start_time * 1000 - 1.8e12 })),
      );
    }

    /** The clip through a running pipeline (its own loop, decode overlapping inference), frames fed as fast as it takes them. */
    async function tracksRunning(clip: Buffer[], camera: string): Promise<TrackSummary[]> {
      const events: TrackEvent[] = [];
      const slot = new LatestFrameSlot();
      const tracker = new FaceTracker({
        camera,
        labels: classifier.labels,
        model: classifier.id,
        minFrames: 3,
        maxMissedFrames: 10,
      });
      const pipeline = new Pipeline({
        camera,
        slot,
        detector,
        classifier: () => classifier,
        tracker,
        log: silentLogger(),
        minFacePx: 24,
        sink: { events: (_c, e) => void events.push(...e), facePresence: () => undefined },
      });
      const done = pipeline.start();
      for (let seq = 0; seq < clip.length; seq++) {
        slot.put({
          seq,
          timestampMs: seq * FRAME_MS,
          wallTimeMs: 1.8e12 + seq * FRAME_MS,
          image: { kind: 'encoded', data: clip[seq], origin: `${camera}#${seq}` },
        });
        await slot.whenEmpty(); // unpaced: the next frame as soon as this one is taken (so none is dropped)
      }
      slot.end();
      await done;
      return byStart(
        events
          .filter((e) => e.type === 'end')
          .map((e) => ({ class: e.after.class, box: e.after.box, start: e.after.start_time * 1000 - 1.8e12 })),
      );
    }

    it('two cameras running at once on one detector and classifier get what each gets alone', async () => {
      const [a, b] = [...frames.values()];
      const alone = [await tracks(a, {}), await tracks(b, {})];
      const together = await Promise.all([tracksRunning(a, 'cam-a'), tracksRunning(b, 'cam-b')]);
      expect(together.map((t) => t.map((x) => x.class))).toEqual(alone.map((t) => t.map((x) => x.class)));
      // Which scale a frame is decoded at depends on when its decode started (tracks open or not), so boxes
      // may differ within the detector's noise, never more.
      together.forEach((t, c) =>
        t.forEach((x, i) => {
          const ref = alone[c][i].box;
          expect(
            Math.abs(x.box.x - ref.x) + Math.abs(x.box.y - ref.y) + Math.abs(x.box.width - ref.width),
          ).toBeLessThanOrEqual(0.1 * ref.width);
        }),
      );
    });

    it('a 1280×720 frame is decoded at 1.5× the full-range letterbox size (288×162); a small still in full', async () => {
      const frame = frames.values().next().value![0];
      const reduced = await decodeForDetection(frame, 'hd', { inputSize: detector.inputSize });
      expect(reduced).toMatchObject({ fullResolution: false, sourceWidth: 1280, sourceHeight: 720 });
      expect([reduced.image.width, reduced.image.height]).toEqual([288, 162]);
      const small = await sharp(frame).resize(178, 218, { fit: 'fill' }).jpeg().toBuffer();
      const full = await decodeForDetection(small, 'small', { inputSize: detector.inputSize });
      expect(full.fullResolution).toBe(true);
      expect([full.image.width, full.image.height]).toEqual([178, 218]);
    });

    it('gives the same tracks and classes as full decoding and every-frame classification, with and without motion gating', async () => {
      let total = 0;
      for (const [name, clip] of frames) {
        const reference = await tracks(clip, { fullDecode: true, classifyIntervalMs: 0 });
        expect(reference.length, `${name}: the clip has tracked faces`).toBeGreaterThan(0);
        total += reference.length;
        for (const variant of [{}, { gate: true }]) {
          const got = await tracks(clip, variant);
          expect(
            got.map((t) => t.class),
            `${name} ${JSON.stringify(variant)}`,
          ).toEqual(reference.map((t) => t.class));
          // The last box of each track, in source pixels, within a few percent of the face size.
          got.forEach((t, i) => {
            const ref = reference[i].box;
            const tolerance = 0.1 * ref.width;
            expect(Math.abs(t.box.x - ref.x), `${name} track ${i} x`).toBeLessThanOrEqual(tolerance);
            expect(Math.abs(t.box.y - ref.y), `${name} track ${i} y`).toBeLessThanOrEqual(tolerance);
            expect(Math.abs(t.box.width - ref.width), `${name} track ${i} width`).toBeLessThanOrEqual(tolerance);
          });
        }
      }
      expect(total).toBeGreaterThan(0);
    });
  },
);
