/** The classifier manifest's labels: 2 to 50, distinct, never `unknown`; a threshold for two labels only. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelManifestSchema } from '../../src/inference/model-manifest.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const gender = JSON.parse(readFileSync(join(REPO_ROOT, 'models/manifest.json'), 'utf8')) as Record<string, unknown>;
const bands = ['0-12', '13-19', '20-29', '30-44', '45-59', '60+'];
const age = {
  ...gender,
  task: 'classification',
  labels: bands,
  ordered: true,
  output: { kind: 'logits', activation: 'softmax', shape: [1, 6] },
  temperature: 0.707,
  unsure_floor: 0.5425,
  threshold: undefined,
  selftest: [{ png_base64: 'x', expected_probability: 0.9, expected_probabilities: [0.9, 0.1, 0, 0, 0, 0] }],
};
const problems = (m: unknown) => {
  const r = modelManifestSchema.safeParse(m);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('modelManifestSchema labels', () => {
  it('accepts the shipped gender manifest and a six-band one with temperature and unsure floor', () => {
    expect(problems(gender)).toEqual([]);
    expect(problems(age)).toEqual([]);
    expect(modelManifestSchema.parse(age)).toMatchObject({ temperature: 0.707, unsure_floor: 0.5425, ordered: true });
  });

  it('refuses one label, 51 labels, duplicates and a label named unknown', () => {
    expect(problems({ ...age, labels: ['a'] }).join()).toMatch(/labels/);
    const many = Array.from({ length: 51 }, (_, i) => `c${i}`);
    expect(problems({ ...age, labels: many, output: undefined, selftest: undefined }).join()).toMatch(/labels/);
    expect(problems({ ...age, labels: ['a', 'a', 'b'], output: undefined, selftest: undefined }).join()).toMatch(
      /distinct/,
    );
    expect(problems({ ...age, labels: ['a', 'unknown', 'b'], output: undefined, selftest: undefined }).join()).toMatch(
      /unknown/,
    );
  });

  it('refuses a threshold on three or more labels, outputs that do not match, and short expected probabilities', () => {
    expect(problems({ ...age, threshold: 0.5 }).join()).toMatch(/threshold: a threshold applies to two labels only/);
    expect(problems({ ...age, output: { kind: 'logits', shape: [1, 4] } }).join()).toMatch(/4 outputs for 6 labels/);
    const selftest = [{ png_base64: 'x', expected_probability: 1, expected_probabilities: [1, 0] }];
    expect(problems({ ...age, selftest }).join()).toMatch(/2 probabilities for 6 labels/);
  });
});
