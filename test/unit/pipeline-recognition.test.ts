/**
 * The pipeline's recognition hook (src/pipeline/track-recognizer.ts) with a stand-in recognizer: only faces
 * of confirmed tracks are handed over, with their track id and the frame's pixels (the aligned crop at the
 * geometry asked for); an identity it returns goes out at once as an `update`; a track's end makes the
 * recognizer forget it. Fakes of our own Detector/Classifier interfaces; the real tracker and slot.
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import type { Detector } from '../../src/pipeline/pipeline.js';
import type { RecognitionFace, TrackIdentity, TrackRecognizer } from '../../src/pipeline/track-recognizer.js';
import type { DetectedFace } from '../../src/vision/face.js';
import { CENTRED_FACE as FACE, greyFrame, standInPipeline } from '../helpers/pipeline-stand-ins.js';

const ALICE: TrackIdentity = { person: { name: 'alice', similarity: 0.97 }, liveness: { outcome: 'live', score: 0.9 } };

let seq = 0;
const frame = (): Frame => {
  seq++;
  return greyFrame(seq - 1, seq * 66, 1_000_000 + seq * 66);
};

class StandInRecognizer implements TrackRecognizer {
  seen: { camera: string; faces: RecognitionFace[]; cropBytes: number }[] = [];
  forgotten: string[] = [];
  #changes = new Map<string, TrackIdentity>();
  async observe(
    camera: string,
    faces: readonly RecognitionFace[],
    _t: number,
    pixels: Parameters<TrackRecognizer['observe']>[3],
  ) {
    const crop = await pixels.alignedCrop(faces[0].face, {
      size: 32,
      sideInEyeDistances: 3,
      centreBelowEyes: 0.3,
      padding: 'mirror',
    });
    this.seen.push({ camera, faces: [...faces], cropBytes: crop.length });
    // Decides at the second frame it is shown.
    if (this.seen.length === 2) this.#changes.set(faces[0].trackId, ALICE);
  }
  takeChanges(): ReadonlyMap<string, TrackIdentity> {
    const changes = this.#changes;
    this.#changes = new Map();
    return changes;
  }
  forget(_camera: string, trackId: string): void {
    this.forgotten.push(trackId);
  }
}

async function run(recognizer: TrackRecognizer | undefined, frames: number) {
  // The face is in the first `frames` frames, then gone: its track ends two frames later.
  let detections = 0;
  const detector: Detector = { detect: () => Promise.resolve(detections++ < frames ? [FACE] : []) };
  const { pipeline, events } = standInPipeline({
    camera: 'porch',
    detector,
    tracker: { minFrames: 3, maxMissedFrames: 1, updateIntervalMs: 60_000 },
    recognizer,
  });
  for (let i = 0; i < frames + 2; i++) await pipeline.processFrame(frame());
  return events;
}

describe('Pipeline with a recognizer', () => {
  it('hands over confirmed tracks only, publishes the identity at once, and makes the recognizer forget ended tracks', async () => {
    const recognizer = new StandInRecognizer();
    const events = await run(recognizer, 6);
    // Frames 1–2 are the unconfirmed track's; frame 3 confirms it (its `new`) and is the first handed over.
    expect(recognizer.seen).toHaveLength(4);
    expect(recognizer.seen[0]).toEqual({
      camera: 'porch',
      faces: [{ trackId: 'porch-1', face: FACE }],
      cropBytes: 32 * 32 * 3,
    });
    expect(events.map((e) => e.type)).toEqual(['new', 'update', 'end']);
    expect(events[0].after).toMatchObject({
      person: { name: null, similarity: null },
      liveness: { outcome: 'unknown' },
    });
    expect(events[1].after).toMatchObject(ALICE);
    expect(events[2].after).toMatchObject(ALICE);
    expect(recognizer.forgotten).toEqual(['porch-1']);
  });

  it('without a recognizer, events are as before: no person, no liveness', async () => {
    const events = await run(undefined, 6);
    expect(events.map((e) => e.type)).toEqual(['new', 'end']);
    for (const e of events) expect(Object.keys(e.after)).not.toContain('person');
  });
});

/** A recognizer whose verdicts the test hands out (as a gallery change does), between frames. */
class VerdictRecognizer implements TrackRecognizer {
  #changes = new Map<string, TrackIdentity>();
  failWith: Error | null = null;
  forgotten: string[] = [];
  verdict(trackId: string, identity: TrackIdentity): void {
    this.#changes.set(trackId, identity);
  }
  observe(): Promise<void> {
    return this.failWith ? Promise.reject(this.failWith) : Promise.resolve();
  }
  takeChanges(): ReadonlyMap<string, TrackIdentity> {
    const changes = this.#changes;
    this.#changes = new Map();
    return changes;
  }
  forget(_camera: string, trackId: string): void {
    this.forgotten.push(trackId);
  }
}

/** `FACE` moved `dx` pixels to the right. */
function shifted(dx: number): DetectedFace {
  const k = FACE.keypoints;
  const move = (p: { x: number; y: number }) => ({ x: p.x + dx, y: p.y });
  return {
    ...FACE,
    box: { ...FACE.box, x: FACE.box.x + dx },
    keypoints: {
      rightEye: move(k.rightEye),
      leftEye: move(k.leftEye),
      noseTip: move(k.noseTip),
      mouth: move(k.mouth),
      rightEar: move(k.rightEar),
      leftEar: move(k.leftEar),
    },
  };
}

/**
 * A pipeline whose face is present while `present()` says so, moving back and forth by a third of its width
 * every frame: the tracker publishes an `update` of its own at every frame.
 */
function scripted(
  recognizer: TrackRecognizer,
  present: () => boolean,
  log = silentLogger(),
  observer = {},
  slot = new LatestFrameSlot(),
) {
  let n = 0;
  const detector: Detector = { detect: () => Promise.resolve(present() ? [shifted(n++ % 2 ? -8 : 8)] : []) };
  const { events, pipeline } = standInPipeline({
    camera: 'porch',
    slot,
    detector,
    log,
    observer,
    tracker: { minFrames: 3, maxMissedFrames: 1, updateIntervalMs: 0, classifyIntervalMs: 0 },
    recognizer,
  });
  return { events, pipeline };
}

const NOBODY: TrackIdentity = { ...ALICE, person: { name: null, similarity: 0.2 } };

describe('Pipeline: identities reach every event after they are decided', () => {
  it('a removal while the face is in view: no later event, tracker updates included, names the removed person', async () => {
    const r = new VerdictRecognizer();
    let present = true;
    const { events, pipeline } = scripted(r, () => present);
    for (let i = 0; i < 4; i++) await pipeline.processFrame(frame());
    r.verdict('porch-1', ALICE);
    for (let i = 0; i < 3; i++) await pipeline.processFrame(frame());
    expect(events.at(-1)?.after.person?.name).toBe('alice');
    r.verdict('porch-1', NOBODY); // the gallery lost alice
    const removedAt = events.length;
    for (let i = 0; i < 3; i++) await pipeline.processFrame(frame());
    present = false;
    for (let i = 0; i < 3; i++) await pipeline.processFrame(frame());
    const after = events.slice(removedAt);
    expect(after.filter((e) => e.type === 'update').length).toBeGreaterThan(1); // the tracker's own updates too
    expect(after.at(-1)?.type).toBe('end');
    for (const e of after) expect(e.after.person?.name).toBeNull();
  });

  it('a removal while the face is out of view: the track ends as nobody', async () => {
    const r = new VerdictRecognizer();
    let present = true;
    const { events, pipeline } = scripted(r, () => present);
    for (let i = 0; i < 4; i++) await pipeline.processFrame(frame());
    r.verdict('porch-1', ALICE);
    await pipeline.processFrame(frame());
    present = false;
    await pipeline.processFrame(frame()); // missed once: the track is still open
    r.verdict('porch-1', NOBODY);
    const removedAt = events.length;
    for (let i = 0; i < 3; i++) await pipeline.processFrame(frame());
    const after = events.slice(removedAt);
    expect(after.map((e) => e.type)).toEqual(['update', 'end']);
    for (const e of after) expect(e.after.person?.name).toBeNull();
  });
});

describe('Pipeline: a failing recognizer', () => {
  it("costs only the frame's recognition: the tracker's events, `end` included, go out, and the recognizer forgets the track", async () => {
    const r = new VerdictRecognizer();
    r.failWith = new Error('crop failed');
    let present = true;
    const lines: string[] = [];
    const log = createLogger({ level: 'error', destination: { write: (line: string) => void lines.push(line) } });
    let counted = 0;
    const { events, pipeline } = scripted(r, () => present, log, { recognitionError: () => counted++ });
    for (let i = 0; i < 5; i++) await pipeline.processFrame(frame());
    present = false;
    for (let i = 0; i < 3; i++) await pipeline.processFrame(frame());
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('new');
    expect(types.at(-1)).toBe('end');
    expect(r.forgotten).toEqual(['porch-1']);
    // Every failed frame is counted; the kind of error is logged once.
    expect(counted).toBe(3); // frames 3–5: the confirmed track's
    expect(lines.filter((l) => l.includes('recognition of a frame failed'))).toHaveLength(1);
  });
});

/** A recognizer that tells the pipeline when it has decided, as GalleryTrackRecognizer does off the frame loop. */
class WatchedRecognizer extends VerdictRecognizer {
  readonly #listeners = new Set<() => void>();
  watchChanges(_camera: string, listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  decide(trackId: string, identity: TrackIdentity): void {
    this.verdict(trackId, identity);
    for (const listener of this.#listeners) listener();
  }
}

/** Resolves once `done()` holds; fails after 5 s. */
async function until(done: () => boolean): Promise<void> {
  const started = Date.now();
  while (!done()) {
    if (Date.now() - started > 5000) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('Pipeline: a decision made between frames', () => {
  it('is published at once by the running loop, not at the next frame, and a removal after it too', async () => {
    const r = new WatchedRecognizer();
    const slot = new LatestFrameSlot();
    let frames = 0;
    const { events, pipeline } = scripted(r, () => true, silentLogger(), { frame: () => frames++ }, slot);
    const running = pipeline.start();
    for (let i = 0; i < 4; i++) {
      slot.put(frame());
      await until(() => frames === i + 1);
    }
    expect(events.map((e) => e.type)).toEqual(['new', 'update']);
    r.decide('porch-1', ALICE); // no frame comes now: the camera's next one may be 67 ms away
    await until(() => events.length === 3);
    expect(events[2]).toMatchObject({ type: 'update', after: { person: { name: 'alice' } } });
    r.decide('porch-1', NOBODY); // the gallery lost alice, still between frames
    await until(() => events.length === 4);
    expect(events[3].after.person?.name).toBeNull();
    slot.put(frame());
    await until(() => frames === 5);
    slot.end();
    await running;
    for (const e of events.slice(3)) expect(e.after.person?.name).toBeNull();
    expect(events.at(-1)?.type).toBe('end');
    expect(frames).toBe(5);
  });
});

describe('Pipeline: publishing between frames', () => {
  it('dates an event with the last frame: never after the next frame, so timestamps never go backwards', async () => {
    const r = new WatchedRecognizer();
    const slot = new LatestFrameSlot();
    const seen: Frame[] = [];
    const { events, pipeline } = scripted(r, () => true, silentLogger(), { frame: (f: Frame) => seen.push(f) }, slot);
    const running = pipeline.start();
    for (let i = 0; i < 4; i++) {
      slot.put(frame());
      await until(() => seen.length === i + 1);
    }
    // Longer than the frames' spacing (66 ms): an event dated "last frame + time since" would pass the next frame.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = events.length;
    r.decide('porch-1', ALICE);
    await until(() => events.length === before + 1);
    slot.put(frame());
    await until(() => seen.length === 5);
    slot.end();
    await running;
    const between = events[before];
    expect(between.after.person?.name).toBe('alice');
    expect(between.frame_timestamp_ms).toBe(seen[3].timestampMs);
    expect(between.frame_timestamp_ms).toBeLessThanOrEqual(seen[4].timestampMs);
    const frameTimes = events.slice(0, before + 1).map((e) => e.frame_timestamp_ms ?? -1);
    expect(frameTimes).toEqual([...frameTimes].sort((a, b) => a - b));
  });

  it('a throw there is reported as a frame error and the camera keeps running', async () => {
    class ThrowsOnce extends WatchedRecognizer {
      throwNext = false;
      override takeChanges(): ReadonlyMap<string, TrackIdentity> {
        if (this.throwNext) {
          this.throwNext = false;
          throw new Error('takeChanges failed');
        }
        return super.takeChanges();
      }
    }
    const r = new ThrowsOnce();
    const slot = new LatestFrameSlot();
    let frames = 0;
    const errors: Error[] = [];
    const observer = { frame: () => frames++, frameError: (_f: Frame, err: Error) => errors.push(err) };
    const { events, pipeline } = scripted(r, () => true, silentLogger(), observer, slot);
    const running = pipeline.start();
    for (let i = 0; i < 4; i++) {
      slot.put(frame());
      await until(() => frames === i + 1);
    }
    r.throwNext = true;
    r.decide('porch-1', ALICE); // wakes the loop, whose takeChanges throws
    await until(() => errors.length === 1);
    expect(errors[0].message).toBe('takeChanges failed');
    slot.put(frame());
    await until(() => frames === 5);
    expect(events.some((e) => e.after.person?.name === 'alice')).toBe(true); // the next frame took it
    slot.end();
    await running;
    expect(events.at(-1)?.type).toBe('end');
  });
});
