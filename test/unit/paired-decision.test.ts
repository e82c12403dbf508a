import { describe, expect, it } from 'vitest';
import { logSoftmax, softmax, toSoftmaxClassification } from '../../src/classification/classification.js';
import { LabelVote } from '../../src/classification/label-vote.js';
import { assertSameLabels, pairedDecision, pairedProbabilities } from '../../src/classification/paired-decision.js';
import { FaceTracker, type FaceObservation } from '../../src/pipeline/face-tracker.js';

const bands = ['0-12', '13-19', '20-29', '30-44', '45-59', '60+'];
const pairing = { temperature: 0.8, unsureFloor: 0.5 };
const rules = { labels: bands, unsureFloor: 0.3, hysteresis: 0.1, unsureMargin: 0, pairing };

describe('the pair decision (mean of the two models’ log-probabilities)', () => {
  it('averages the log-probabilities, divides by the pair temperature and renormalises', () => {
    const image = [0.02, 0.08, 0.5, 0.3, 0.05, 0.05];
    const head = logSoftmax([-3, -1, 0.5, 2, 0, -2]);
    const got = pairedProbabilities(image, head, 0.8);
    // by hand: exp((log p_i + h_i) / 2 / T), normalised
    const raw = image.map((p, i) => Math.exp((Math.log(p) + head[i]) / 2 / 0.8));
    const sum = raw.reduce((a, b) => a + b, 0);
    got.forEach((p, i) => expect(p).toBeCloseTo(raw[i] / sum, 12));
    // the image model alone says 20-29, the head 30-44: together 30-44
    expect(pairedDecision(bands, got, pairing).label).toBe('30-44');
  });

  it('never lets one model veto a label: a zero probability counts as log −12', () => {
    const got = pairedProbabilities([0, 0, 1, 0, 0, 0], logSoftmax([0, 0, -30, 30, 0, 0]), 1);
    expect(got.every((p) => Number.isFinite(p))).toBe(true);
    expect(got[3]).toBeGreaterThan(got[2]); // −12 + 0 against 0 − 60: the head wins
  });

  it('is unknown below the pair unsure floor (plus the tracker margin)', () => {
    const flat = softmax([0, 0, 0.2, 0.1, 0, 0]);
    const d = pairedDecision(bands, flat, pairing);
    expect(d.label).toBe('unknown');
    expect(d.side).toBe(2);
    expect(pairedDecision(bands, softmax([0, 0, 5, 0, 0, 0]), pairing, 0.1).label).toBe('20-29');
  });

  it('refuses two models whose labels differ, also in order only', () => {
    expect(() => assertSameLabels(bands, [...bands], 'age')).not.toThrow();
    const swapped = ['13-19', '0-12', ...bands.slice(2)];
    expect(() => assertSameLabels(bands, swapped, 'age')).toThrow(/labels \[13-19, 0-12/);
    expect(() => assertSameLabels(bands, bands.slice(1), 'age')).toThrow(
      expect.objectContaining({ code: 'MODEL_INVALID' }),
    );
    expect(() => pairedProbabilities([0.5, 0.5], [0, 0, 0], 1)).toThrow(/a pair of 2 and 3 labels/);
  });
});

describe('a vote of a paired model', () => {
  const frame = (v: LabelVote, logits: number[]) => v.add(toSoftmaxClassification(bands, logits).scores, 1, 0);

  it('decides from the image model alone until the head has a value, then from the pair', () => {
    const v = new LabelVote(bands.length);
    frame(v, [0, 0, 2, 1.5, 0, 0]);
    frame(v, [0, 0, 2.2, 1.4, 0, 0]);
    const alone = v.decision(rules);
    expect(alone).toMatchObject({ label: '20-29', source: 'image' });
    // without pairing rules the decision is exactly as before (no source)
    expect(v.decision({ ...rules, pairing: undefined }).source).toBeUndefined();
    const head = logSoftmax([-4, -2, 0, 3, 0, -3]);
    v.pair(head);
    const paired = v.decision(rules);
    expect(paired.source).toBe('image+embedding');
    expect(paired.label).toBe('30-44');
    expect(() => v.pair([0, 0])).toThrow(RangeError);
  });

  it('agrees with pairedProbabilities on the vote’s own image probabilities', () => {
    const v = new LabelVote(bands.length);
    const logits = [0, 1, 3, 1, 0, 0];
    frame(v, logits);
    const head = logSoftmax([0, 0, 0, 4, 0, 0]);
    v.pair(head);
    const expected = pairedProbabilities(toSoftmaxClassification(bands, logits).probabilities, head, 0.8);
    const d = v.decision(rules);
    expect(d.confidence).toBeCloseTo(Math.max(...expected), 9);
    expect(d.side).toBe(expected.indexOf(Math.max(...expected)));
  });
});

describe('LabelVote beside an image model its pair was not fitted with', () => {
  it('decides from the image model alone (source image), even with the head’s value', () => {
    const v = new LabelVote(bands.length);
    v.add(toSoftmaxClassification(bands, [0, 0, 2, 1.5, 0, 0]).scores, 1, 0);
    v.pair(logSoftmax([-4, -2, 0, 4, 0, -3]));
    expect(v.decision(rules)).toMatchObject({ label: '30-44', source: 'image+embedding' });
    const alone = v.decision({ ...rules, pairing: undefined });
    expect(v.decision({ ...rules, pairing: { ...pairing, imageOnly: true } })).toEqual({ ...alone, source: 'image' });
  });
});

describe('FaceTracker with a paired attribute', () => {
  const seen = (x: number): FaceObservation => {
    const gender = toSoftmaxClassification(['female', 'male'], [0, 3]);
    return {
      box: { x, y: 50, width: 60, height: 60 },
      logit: 3,
      scores: gender.scores,
      more: [toSoftmaxClassification(bands, [0, 0, 2, 1.5, 0, 0]).scores],
    };
  };

  it('publishes the pair’s decision with its source once the head told the track, and only for that model', () => {
    const t = new FaceTracker({
      camera: 'door',
      labels: ['female', 'male'],
      model: 'gender',
      attributeName: 'gender',
      minFrames: 2,
      updateIntervalMs: 0,
      moreModels: [{ name: 'age', labels: bands, unsureFloor: 0.3, pairing }],
    });
    const first = [0, 1].flatMap((i) => t.update([seen(100 + i)], i * 40, 1_000 + i * 40));
    expect(first[0].after.attributes).toEqual({
      gender: { label: 'male', score: expect.any(Number) },
      age: { label: '20-29', score: expect.any(Number), source: 'image' },
    });
    const id = first[0].after.id;
    expect(t.pairTrack(id, 'gender', logSoftmax([0, 5]), 60, 1_060)).toBeNull(); // no pairing for gender: ignored
    expect(t.pairTrack('door-99', 'age', logSoftmax([0, 0, 0, 6, 0, 0]), 60, 1_060)).toBeNull(); // an ended track
    // Published at once, between frames, not only with the track's next event.
    const paired = t.pairTrack(id, 'age', logSoftmax([-4, -2, 0, 4, 0, -3]), 60, 1_060);
    expect(paired).toMatchObject({ type: 'update', frame_timestamp_ms: 60 });
    expect(paired?.after.attributes?.age).toEqual({
      label: '30-44',
      score: expect.any(Number),
      source: 'image+embedding',
    });
    expect(t.pairTrack(id, 'age', logSoftmax([-4, -2, 0, 4, 0, -3]), 70, 1_070)).toBeNull(); // no change
    expect(t.update([seen(102)], 80, 1_080)).toHaveLength(0); // already published
    // A swap to an image model the pair was not fitted with (a retrained model, same labels): image alone.
    const swapped = new FaceTracker({
      camera: 'door',
      labels: ['female', 'male'],
      model: 'gender',
      attributeName: 'gender',
      minFrames: 2,
      updateIntervalMs: 0,
      moreModels: [{ name: 'age', labels: bands, unsureFloor: 0.3, pairing }],
    });
    const [opened] = [0, 1].flatMap((i) => swapped.update([seen(100 + i)], i * 40, 1_000 + i * 40));
    swapped.setAttributeModel('age', 0.3, { ...pairing, imageOnly: true });
    expect(swapped.pairTrack(opened.after.id, 'age', logSoftmax([-4, -2, 0, 4, 0, -3]), 60, 1_060)).toBeNull();
    expect(swapped.flush(70, 1_070)[0].after.attributes?.age).toMatchObject({ label: '20-29', source: 'image' });
    const next = t.flush(120, 1_120);
    expect(next[0].after.attributes?.age).toEqual({
      label: '30-44',
      score: expect.any(Number),
      source: 'image+embedding',
    });
    expect(next[0].after.attributes?.gender).toEqual(first[0].after.attributes?.gender);
  });
});
