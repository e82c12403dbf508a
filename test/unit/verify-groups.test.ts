import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIXED_GROUP, pairGroup, readGroupLabels, summarizeGroups } from '../../src/recognition/verify-groups.js';

const pair = (group: string | null, same: boolean, score: number | null, fold: number | null = null) => ({
  group,
  same,
  score,
  fold,
});

describe('verification per group', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faceedge-groups-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads path,<label> with paths relative to the CSV, and refuses a bad header or line', async () => {
    await writeFile(join(dir, 'g.csv'), 'path,gender\nimages/a.jpg,female\nimages/b.jpg,male\n');
    const labels = await readGroupLabels(join(dir, 'g.csv'));
    expect(labels.get(join(dir, 'images/a.jpg'))).toBe('female');
    expect(labels.size).toBe(2);
    await writeFile(join(dir, 'bad.csv'), 'file,gender\na.jpg,female\n');
    await expect(readGroupLabels(join(dir, 'bad.csv'))).rejects.toMatchObject({ code: 'DATASET_INVALID' });
    await writeFile(join(dir, 'short.csv'), 'path,gender\na.jpg\n');
    await expect(readGroupLabels(join(dir, 'short.csv'))).rejects.toThrow(/line 2/);
    await expect(readGroupLabels(join(dir, 'absent.csv'))).rejects.toMatchObject({ code: 'DATASET_INVALID' });
  });

  it('puts a pair in its photos’ group, across groups in mixed, unlabelled nowhere', () => {
    const labels = new Map([
      ['/a', 'female'],
      ['/b', 'female'],
      ['/c', 'male'],
    ]);
    expect(pairGroup(labels, '/a', '/b')).toBe('female');
    expect(pairGroup(labels, '/a', '/c')).toBe(MIXED_GROUP);
    expect(pairGroup(labels, '/a', '/x')).toBeNull();
  });

  it('scores each group at the model threshold, and with the thresholds chosen on all pairs of the other folds', () => {
    const pairs = [
      // fold 0: separable at 0.5; fold 1 likewise. The male group's impostor at 0.6 is accepted at 0.55.
      pair('female', true, 0.9, 0),
      pair('female', false, 0.2, 0),
      pair('male', true, 0.8, 0),
      pair('male', false, 0.6, 0),
      pair('female', true, 0.7, 1),
      pair('female', false, 0.1, 1),
      pair('male', true, null, 1),
      pair(null, false, 0.95, 1),
    ];
    const groups = summarizeGroups(pairs, 0.55);
    expect(Object.keys(groups)).toEqual(['female', 'male']);
    expect(groups.female).toEqual({ pairs: 4, same: 2, accuracy: 1, tar: 1, far: 0 });
    expect(groups.male.pairs).toBe(3);
    expect(groups.male.tar).toBe(0.5); // the missing face is rejected
    expect(groups.male.far).toBe(1);
    // a missing face is wrong whatever the threshold, so the male group cannot be right on all its pairs
    expect(groups.male.accuracy).toBeLessThan(1);
  });
});
