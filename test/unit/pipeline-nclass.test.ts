/**
 * The pipeline with a classifier of six labels: its per-label scores reach the tracker, so events name
 * the manifest's bands (or `unknown` below the model's unsure floor). Fakes of our own Detector/Classifier
 * interfaces; the real tracker, slot and classification contract.
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { toSoftmaxClassification } from '../../src/classification/classification.js';
import type { Classifier, Detector } from '../../src/pipeline/pipeline.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import { CENTRED_FACE as FACE, greyFrame, standInPipeline } from '../helpers/pipeline-stand-ins.js';
import { waitUntil } from '../helpers/wait-until.js';

const BANDS = ['0-12', '13-19', '20-29', '30-44', '45-59', '60+'];

let seq = 0;
const frame = (): Frame => greyFrame(seq++, performance.now(), Date.now());

async function firstEvent(logits: number[], unsureFloor: number): Promise<TrackEvent> {
  const detector: Detector = { detect: async () => [FACE] };
  const classifier: Classifier = {
    alignment: { size: 64 },
    classify: async () => toSoftmaxClassification(BANDS, logits, { unsureFloor }),
  };
  const { pipeline, slot, events } = standInPipeline({
    detector,
    classifier,
    tracker: { labels: BANDS, model: 'age', minFrames: 1, unsureFloor },
  });
  const done = pipeline.start();
  slot.put(frame());
  await waitUntil(() => events.length > 0, 5000, 'the first event');
  await pipeline.stop();
  await done;
  return events[0];
}

describe('a six-label classifier in the pipeline', () => {
  it('publishes the band with its probability', async () => {
    const logits = [0, 0, 1, 4, 1, 0];
    const event = await firstEvent(logits, 0.5);
    expect(event.after.class).toBe('30-44');
    expect(event.after.score).toBeCloseTo(toSoftmaxClassification(BANDS, logits).confidence, 3);
    expect(event.after.model).toBe('age');
  });

  it('publishes unknown below the unsure floor', async () => {
    const event = await firstEvent([0, 0, 1, 1.1, 1, 0], 0.5);
    expect(event.after.class).toBe('unknown');
    expect(event.after.score).toBeLessThan(0.5);
  });
});
