/**
 * `faceedge eval --anchor`'s scoring on hand-made records and a hand-made anchor file: bands read from the
 * labels as train/faceedge_train/datasets/age_bands.py reads them, a no-face image wrong for its side only, both
 * sides scored by the same code, and an anchor file that does not belong to the folder refused.
 */
import { describe, expect, it } from 'vitest';
import { areAgeBands, bandOf, bandRange } from '../../src/evaluation/age-band-labels.js';
import { parseAnchorCsv } from '../../src/evaluation/anchor-csv.js';
import {
  anchorOutcomes,
  checkAnchorCovers,
  checkAnchorMatchesFolder,
  compareWithAnchor,
  scoreSide,
} from '../../src/evaluation/anchor-comparison.js';
import type { ImageGroups } from '../../src/evaluation/group-metrics.js';
import type { ImageOutcome } from '../../src/evaluation/image-outcome.js';
import { isFaceedgeError } from '../../src/errors.js';

const BANDS = ['13-19', '20-29', '30-44', '45-59', '60+'];

describe('age band labels', () => {
  it('reads a band label back as ages, as age_bands.py band_range does', () => {
    expect(bandRange('30-44')).toEqual({ first: 30, last: 44 });
    expect(bandRange('60+')).toEqual({ first: 60, last: null });
    expect(() => bandRange('female')).toThrow(/not an age band/);
    expect(() => bandRange('44-30')).toThrow(/ends before it starts/);
    expect(areAgeBands(BANDS)).toBe(true);
    expect(areAgeBands(['female', 'male'])).toBe(false);
  });

  it('bins in completed years, and an age outside every band in the nearest one', () => {
    expect(bandOf(29.9, BANDS)).toBe('20-29');
    expect(bandOf(30, BANDS)).toBe('30-44');
    expect(bandOf(44.5, BANDS)).toBe('30-44');
    expect(bandOf(97, BANDS)).toBe('60+');
    expect(bandOf(8.2, BANDS)).toBe('13-19');
    expect(bandOf(8.2, ['0-12', ...BANDS])).toBe('0-12');
  });
});

describe('the anchor file', () => {
  it('parses file,age rows with empty ages as no face', () => {
    const ages = parseAnchorCsv('file,age\n20-29/a.jpg,24.5\n30-44/b,c.jpg,\n', 'x.csv');
    expect([...ages]).toEqual([
      ['20-29/a.jpg', 24.5],
      ['30-44/b,c.jpg', null],
    ]);
  });

  it.each([
    ['20-29/a.jpg,24.5\n', /not an anchor file/],
    ['file,age\n20-29/a.jpg,old\n', /line 2: age "old"/],
    ['file,age\n20-29/a.jpg,-3\n', /line 2: age "-3"/],
    ['file,age\n20-29/a.jpg\n', /line 2: expected file,age/],
    ['file,age\n20-29/a.jpg,20\n20-29/a.jpg,21\n', /listed twice/],
  ])('refuses %j', (text, message) => {
    try {
      parseAnchorCsv(text, 'x.csv');
      expect.unreachable();
    } catch (err) {
      expect(isFaceedgeError(err) && err.code).toBe('DATASET_INVALID');
      expect((err as Error).message).toMatch(message);
    }
  });

  it('must belong to the folder: no foreign rows, and every image has one', () => {
    const ages = parseAnchorCsv('file,age\n20-29/a.jpg,24\n60+/z.jpg,70\n', 'x.csv');
    const where = { anchor: 'x.csv', dir: '/d' };
    expect(() => checkAnchorMatchesFolder(ages, ['20-29/a.jpg', '20-29/b.jpg'], where, false)).toThrow(
      /1 of its 2 rows name files not in \/d \(first: 60\+\/z.jpg\)/,
    );
    expect(() => checkAnchorMatchesFolder(ages, ['20-29/a.jpg', '20-29/b.jpg', '60+/z.jpg'], where, true)).toThrow(
      /1 of the 3 images of \/d have no row \(first: 20-29\/b.jpg\)/,
    );
    // Sampled (--limit): only the evaluated images need a row.
    expect(() =>
      checkAnchorMatchesFolder(ages, ['20-29/a.jpg', '20-29/b.jpg', '60+/z.jpg'], where, false),
    ).not.toThrow();
    expect(() => checkAnchorCovers(ages, ['20-29/a.jpg'], where)).not.toThrow();
  });
});

/** Six images; the model misses 60+/f (no face), the anchor misses 20-29/b. */
const model: ImageOutcome[] = [
  { file: '13-19/a.jpg', truth: '13-19', status: 'classified', predicted: '13-19', probability: 0.6, msImage: 1 },
  { file: '20-29/b.jpg', truth: '20-29', status: 'classified', predicted: '20-29', probability: 0.7, msImage: 1 },
  { file: '20-29/c.jpg', truth: '20-29', status: 'classified', predicted: '45-59', probability: 0.5, msImage: 1 },
  { file: '30-44/d.jpg', truth: '30-44', status: 'classified', predicted: '30-44', probability: 0.8, msImage: 1 },
  { file: '45-59/e.jpg', truth: '45-59', status: 'classified', predicted: '30-44', probability: 0.4, msImage: 1 },
  { file: '60+/f.jpg', truth: '60+', status: 'no face', msImage: 1 },
];
const ANCHOR_CSV = [
  'file,age',
  '13-19/a.jpg,22.0', // 20-29: one band off
  '20-29/b.jpg,', // no face
  '20-29/c.jpg,29.9', // 20-29: right (completed years)
  '30-44/d.jpg,61.0', // 60+: two bands off
  '45-59/e.jpg,50.2', // right
  '60+/f.jpg,64.0', // right
].join('\n');
const TRUE_YEARS: Record<string, number> = {
  '13-19/a.jpg': 17,
  '20-29/b.jpg': 25,
  '20-29/c.jpg': 27,
  '30-44/d.jpg': 40,
  '45-59/e.jpg': 52,
  '60+/f.jpg': 70,
};

describe('scoring both sides', () => {
  const ages = parseAnchorCsv(ANCHOR_CSV, 'anchor.csv');

  it('bins the anchor into the same records as the model, a missing age as no face', () => {
    const records = anchorOutcomes(model, ages, BANDS);
    expect(records.map((r) => r.predicted ?? r.status)).toEqual(['20-29', 'no face', '20-29', '60+', '45-59', '60+']);
    expect(() => anchorOutcomes([{ ...model[0], file: '13-19/q.jpg' }], ages, BANDS)).toThrow(/no row for 13-19\/q/);
  });

  it('counts a no-face image as wrong in accuracy, recall and off-by-more-than-one', () => {
    const ours = scoreSide(model, BANDS, true);
    expect(ours).toMatchObject({ n: 6, answered: 5, no_face: 1 });
    expect(ours.accuracy).toBeCloseTo(3 / 6);
    // Recalls 1, 1/2, 1, 0, 0 (the 60+ image had no face): mean 0.5.
    expect(ours.recall).toEqual({ '13-19': 1, '20-29': 0.5, '30-44': 1, '45-59': 0, '60+': 0 });
    expect(ours.macro_recall).toBeCloseTo(0.5);
    // 20-29 → 45-59 is two bands off, plus the no-face image.
    expect(ours.off_by_more_than_one).toBeCloseTo(2 / 6);
    expect(scoreSide(model, BANDS, false).off_by_more_than_one).toBeNull();
  });

  it('scores the anchor with the same code, and its age error against labels.csv ages', () => {
    const groups = new Map<string, ImageGroups>(
      Object.entries(TRUE_YEARS).map(([file, years]) => [file, { years, age: years >= 30 ? '30+' : '<30', race: 'X' }]),
    );
    const compared = compareWithAnchor({
      name: 'human-3.3.6',
      source: 'anchor.csv',
      ages,
      modelOutcomes: model,
      labels: BANDS,
      ordered: true,
      groups: { source: 'labels.csv', groups },
    });
    expect(compared.model).toEqual(scoreSide(model, BANDS, true));
    expect(compared.anchor).toMatchObject({ n: 6, answered: 5, no_face: 1 });
    expect(compared.anchor.accuracy).toBeCloseTo(3 / 6);
    expect(compared.anchor.recall).toEqual({ '13-19': 0, '20-29': 0.5, '30-44': 0, '45-59': 1, '60+': 1 });
    expect(compared.anchor.macro_recall).toBeCloseTo(0.5);
    // 30-44 → 60+ two bands off, plus the no-face image.
    expect(compared.anchor.off_by_more_than_one).toBeCloseTo(2 / 6);
    // |22-17| + |29.9-27| + |61-40| + |50.2-52| + |64-70| over the 5 answered.
    expect(compared.anchor_mae_years).toBeCloseTo((5 + 2.9 + 21 + 1.8 + 6) / 5);
    const under30 = (rows: readonly { group: string; accuracy: number }[]) => rows.find((r) => r.group === '<30');
    expect(under30(compared.groups?.model.age ?? [])?.accuracy).toBeCloseTo(2 / 3);
    expect(under30(compared.groups?.anchor.age ?? [])?.accuracy).toBeCloseTo(1 / 3);
  });
});
