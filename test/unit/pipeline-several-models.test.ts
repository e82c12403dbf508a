/**
 * Several models per face (issue 24 §3): the tracker votes each model on its own and each on its own
 * cadence; snapshots carry `attributes` for every model while the top-level fields stay the first
 * model's; the pipeline crops once per crop geometry and hands each model only the faces it is due for.
 * Fakes of our own Detector/Classifier interfaces; the real tracker, slot and classification contract.
 */
import { describe, expect, it } from 'vitest';
import { toClassification, toSoftmaxClassification } from '../../src/classification/classification.js';
import { FaceTracker, type FaceObservation } from '../../src/pipeline/face-tracker.js';
import type { Classifier, Detector } from '../../src/pipeline/pipeline.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import { CENTRED_FACE as FACE, FRAME_SIDE as W, greyFrame, standInPipeline } from '../helpers/pipeline-stand-ins.js';

const GENDER = ['female', 'male'];
const AGE = ['13-19', '20-29', '30-44'];
const BOX = FACE.box;
const male = toClassification(GENDER, 0.9);
const adult = (logits: number[]) => toSoftmaxClassification(AGE, logits).scores;

function twoModelTracker(ageIntervalMs: number, more: Partial<FaceObservation> = {}) {
  return new FaceTracker({
    camera: 'door',
    labels: GENDER,
    model: 'g1',
    minFrames: 2,
    classifyIntervalMs: 200,
    updateIntervalMs: 0,
    attributeName: 'gender',
    moreModels: [{ name: 'age', labels: AGE, classifyIntervalMs: ageIntervalMs }],
    ...more,
  });
}

describe('a tracker of two models', () => {
  it('puts every model into attributes, the first one also as class/score, bit-identical to one model', () => {
    const one = new FaceTracker({ camera: 'door', labels: GENDER, model: 'g1', minFrames: 2, updateIntervalMs: 0 });
    const two = twoModelTracker(1000);
    const seen: TrackEvent[][] = [[], []];
    for (let i = 0; i < 4; i++) {
      const obs = { box: BOX, logit: male.logit + i * 0.1 };
      seen[0].push(...one.update([obs], i * 100, 1000 + i * 100));
      seen[1].push(...two.update([{ ...obs, more: [adult([0, 3, 0])] }], i * 100, 1000 + i * 100));
    }
    expect(seen[1].map((e) => e.type)).toEqual(seen[0].map((e) => e.type));
    seen[1].forEach((e, i) => {
      const { attributes, ...rest } = e.after;
      expect(rest).toEqual(seen[0][i].after);
      expect(attributes).toEqual({
        gender: { label: 'male', score: rest.score },
        age: { label: '20-29', score: Number(toSoftmaxClassification(AGE, [0, 3, 0]).confidence.toFixed(3)) },
      });
    });
  });

  it('asks each model on its own cadence: the second model after its own interval, not the first one’s', () => {
    const tracker = twoModelTracker(1000);
    const due = (t: number) => tracker.classificationsDue([BOX], t)[0];
    let t = 0;
    // The first min_frames frames: both models classify.
    for (; t < 200; t += 100) {
      expect(due(t)).toEqual([true, true]);
      tracker.update([{ box: BOX, logit: male.logit, more: [adult([0, 4, 0])] }], t, t);
    }
    const asked: boolean[][] = [];
    for (; t <= 1200; t += 100) {
      const [g, a] = due(t);
      asked.push([g, a]);
      tracker.update([{ box: BOX, logit: g ? male.logit : null, more: [a ? adult([0, 4, 0]) : null] }], t, t);
    }
    const firsts = asked.map((d, i) => (d[0] ? 200 + i * 100 : null)).filter((x) => x !== null);
    const seconds = asked.map((d, i) => (d[1] ? 200 + i * 100 : null)).filter((x) => x !== null);
    expect(firsts).toEqual([300, 500, 700, 900, 1100]);
    expect(seconds).toEqual([1100]);
  });

  it('asks an unclear model every frame, whatever its interval', () => {
    const tracker = twoModelTracker(1000);
    for (let t = 0; t < 500; t += 100) {
      expect(tracker.classificationsDue([BOX], t)[0][1]).toBe(true);
      tracker.update([{ box: BOX, logit: male.logit, more: [adult([0, 0.1, 0])] }], t, t);
    }
  });

  it('publishes an update when only the second model changes its mind, once the new label is clear', () => {
    const tracker = twoModelTracker(0);
    const events: TrackEvent[] = [];
    const frameWith = (t: number, logits: number[]) =>
      events.push(...tracker.update([{ box: BOX, logit: male.logit, more: [adult(logits)] }], t, t));
    for (let t = 0; t < 300; t += 100) frameWith(t, [0, 3, 0]);
    expect(events.map((e) => [e.type, e.after.attributes?.age.label])).toEqual([['new', '20-29']]);
    for (let t = 300; t < 2000; t += 100) frameWith(t, [0, -4, 6]);
    const changed = events.find((e) => e.type === 'update' && e.after.attributes?.age.label === '30-44');
    expect(changed?.after.class).toBe('male');
    expect(changed?.after.attributes?.age.score).toBeGreaterThanOrEqual(1 / 3 + 0.1);
  });

  it('refuses further models without a name for the first one, and scores of the wrong length', () => {
    expect(
      () => new FaceTracker({ camera: 'c', labels: GENDER, model: 'g', moreModels: [{ name: 'age', labels: AGE }] }),
    ).toThrow(/first one named/);
    const tracker = twoModelTracker(0);
    expect(() => tracker.update([{ box: BOX, logit: 1, more: [[0, 1]] }], 0, 0)).toThrow(/2 class scores/);
  });
});

describe('a pipeline of three models', () => {
  it('hands each model its own geometry’s crop (one crop per geometry) and every result to the tracker', async () => {
    // A gradient, so crops of different geometries differ.
    const data = Buffer.alloc(W * W * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    const crops: Record<string, Uint8Array[]> = { gender: [], age: [], glasses: [] };
    const fake = (
      name: string,
      size: number,
      result: () => { logit: number; scores?: readonly number[] },
    ): Classifier => ({
      alignment: { size },
      classify: async (crop) => (crops[name].push(crop), result()),
    });
    const gender = fake('gender', 64, () => male);
    const age = fake('age', 64, () => toSoftmaxClassification(AGE, [0, 0, 5]));
    const glasses = fake('glasses', 32, () => toClassification(['no', 'yes'], 0.2));
    const classifyMs: number[][] = [];
    const detector: Detector = { detect: async () => [FACE] };
    const { pipeline } = standInPipeline({
      detector,
      classifier: gender,
      moreClassifiers: () => [age, glasses],
      tracker: new FaceTracker({
        camera: 'door',
        labels: GENDER,
        model: 'g1',
        minFrames: 1,
        attributeName: 'gender',
        moreModels: [
          { name: 'age', labels: AGE },
          { name: 'glasses', labels: ['no', 'yes'] },
        ],
      }),
      observer: { classify: (model, ms) => (classifyMs[model] ??= []).push(ms) },
    });
    const [event] = await pipeline.processFrame(greyFrame(1, 0, 1000, data));
    expect(crops.gender).toHaveLength(1);
    expect(crops.age[0]).toBe(crops.gender[0]); // the same crop, not a copy: made once
    expect(crops.glasses[0]).toHaveLength(32 * 32 * 3);
    expect(crops.gender[0]).toHaveLength(64 * 64 * 3);
    expect(event.after.class).toBe('male');
    expect(event.after.attributes).toEqual({
      gender: { label: 'male', score: event.after.score },
      age: { label: '30-44', score: expect.any(Number) as number },
      glasses: { label: 'no', score: 0.8 },
    });
    expect(classifyMs.map((ms) => ms.length)).toEqual([1, 1, 1]);
    await pipeline.stop();
  });
});
