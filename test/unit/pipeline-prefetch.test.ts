/**
 * The pipeline keeps two frames in flight: the next frame is taken from the slot and decoded while the
 * current one is in the detector, yet frames are analysed one at a time and in order, a frame that
 * cannot be decoded is reported when its turn comes (never an unhandled rejection), and stop() still
 * processes every captured frame. Fakes of our own Detector/Classifier; real slot, tracker and sharp.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import type { Detector } from '../../src/pipeline/pipeline.js';
import { fixedClassifier, standInPipeline } from '../helpers/pipeline-stand-ins.js';
import { waitUntil as until } from '../helpers/wait-until.js';

const jpeg = await sharp({ create: { width: 640, height: 360, channels: 3, background: '#808080' } })
  .jpeg()
  .toBuffer();
const frame = (seq: number, data = jpeg): Frame => ({
  seq,
  timestampMs: seq * 66,
  wallTimeMs: 1.8e12 + seq * 66,
  image: { kind: 'encoded', data, origin: `f#${seq}` },
});

function setup() {
  const analysed: number[] = [];
  const errors: { seq: number; code?: string }[] = [];
  /** Release functions of detect calls in progress; detect resolves only when the test says so. */
  const inDetector: (() => void)[] = [];
  let active = 0;
  let maxActive = 0;
  const detector: Detector = {
    inputSize: 128,
    detect: async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((r) => inDetector.push(r));
      active--;
      return [];
    },
  };
  const { pipeline, slot } = standInPipeline({
    camera: 'cam',
    detector,
    classifier: fixedClassifier(0),
    observer: {
      frame: (f) => void analysed.push(f.seq),
      frameError: (f, err) => void errors.push({ seq: f.seq, code: (err as { code?: string }).code }),
    },
  });
  return { slot, pipeline, analysed, errors, inDetector, maxActive: () => maxActive };
}

describe('Pipeline: decode of the next frame overlaps analysis of the current one', () => {
  it('takes the next frame while the current one is in the detector, and analyses in order', async () => {
    const { slot, pipeline, analysed, inDetector, maxActive } = setup();
    const done = pipeline.start();
    slot.put(frame(0));
    await until(() => inDetector.length === 1);
    // Frame 0 is in the detector; frame 1 is taken (and decoded) at once, not left pending in the slot.
    slot.put(frame(1));
    await until(() => !slot.hasPending);
    expect(slot.stats()).toMatchObject({ taken: 2, dropped: 0 });
    // Frame 2 waits in the slot: at most two frames in flight.
    slot.put(frame(2));
    await new Promise((r) => setTimeout(r, 50));
    expect(slot.hasPending).toBe(true);
    expect(inDetector.length).toBe(1);
    for (let k = 0; k < 3; k++) {
      await until(() => inDetector.length === k + 1);
      inDetector[k]();
    }
    slot.end();
    await done;
    expect(analysed).toEqual([0, 1, 2]);
    expect(maxActive()).toBe(1); // one frame in the detector at a time per camera
  });

  it('reports an undecodable prefetched frame in its turn and carries on; stop() processes what was captured', async () => {
    const { slot, pipeline, analysed, errors, inDetector } = setup();
    const done = pipeline.start();
    slot.put(frame(0));
    await until(() => inDetector.length === 1);
    slot.put(frame(1, Buffer.from('not a jpeg at all')));
    await until(() => !slot.hasPending);
    slot.put(frame(2));
    inDetector[0]();
    await until(() => inDetector.length === 2);
    expect(errors).toEqual([{ seq: 1, code: 'IMAGE_UNREADABLE' }]);
    const stopped = pipeline.stop();
    inDetector[1]();
    await stopped;
    await done;
    expect(analysed).toEqual([0, 2]);
  });
});
