/**
 * Pipeline.endTracks (a camera paused by a rule): open tracks end with an `end` event while the loop
 * keeps waiting for frames, frames captured before the call are processed first, and a later frame
 * starts a new track. Fakes of our own Detector/Classifier interfaces; the real tracker and slot.
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import type { Detector } from '../../src/pipeline/pipeline.js';
import { CENTRED_FACE as FACE, greyFrame, standInPipeline } from '../helpers/pipeline-stand-ins.js';
import { waitUntil as until } from '../helpers/wait-until.js';

let seq = 0;
const frame = (): Frame => greyFrame(seq++, performance.now(), Date.now());

function setup() {
  let detections = 0;
  const detector: Detector = { detect: async () => (detections++, [FACE]) };
  const { events, slot, pipeline } = standInPipeline({ camera: 'porch', detector, tracker: { minFrames: 1 } });
  return { events, slot, pipeline, detections: () => detections };
}

describe('Pipeline.endTracks', () => {
  it('ends open tracks after the frames already captured, keeps the loop running, and a later frame starts a new track', async () => {
    const { events, slot, pipeline, detections } = setup();
    const done = pipeline.start();
    slot.put(frame());
    await until(() => events.some((e) => e.type === 'new'));
    const first = events[0].after.id;
    // Captured before the pause: processed (one more detection) before the tracks end.
    slot.put(frame());
    await pipeline.endTracks();
    expect(detections()).toBe(2);
    expect(events.at(-1)).toMatchObject({ type: 'end', after: { id: first } });

    slot.put(frame());
    await until(() => events.filter((e) => e.type === 'new').length === 2);
    expect(events.at(-1)!.after.id).not.toBe(first);
    await pipeline.stop();
    await done;
    expect(events.at(-1)).toMatchObject({ type: 'end' });
    expect(events.filter((e) => e.type === 'end')).toHaveLength(2);
  });

  it('resolves at once after the loop has ended', async () => {
    const { slot, pipeline } = setup();
    const done = pipeline.start();
    slot.end();
    await done;
    await expect(pipeline.endTracks()).resolves.toBeUndefined();
  });
});
