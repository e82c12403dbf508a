/**
 * `faceedge eval --head` end to end: the shipped age model with its head on the face embedding, the real detector
 * and the shipped embedder, over a few UTKFace test photos beside an anchor file written here. The pair is scored
 * as the model under test and the 64×64 model alone beside it (JSON and tables); a head of other labels, or pinned to
 * another embedder, is refused before the run. The head is a copy pinned to the embedder in use (its manifest's
 * embedder sha256 set to it): nothing here depends on the head's weights, so a retrained head changes nothing.
 * Needs the UTKFace age set under data/ (git-ignored): skipped without it.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnchorComparison } from '../../src/evaluation/anchor-comparison.js';
import type { EvalSummary } from '../../src/evaluation/evaluate-folder.js';
import { shippedEmbedderPath } from '../../src/inference/shipped-model.js';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/run-cli.js';

const UTKFACE = join(REPO_ROOT, 'data/utkface-age');
const AGE_MODEL = join(REPO_ROOT, 'models/age/faceedge-age_int8.tflite');
const HEAD_DIR = join(REPO_ROOT, 'models/age/head');
const HEAD_FILE = 'faceedge-age-head_float32.tflite';
const BANDS = ['20-29', '45-59', '60+'];
const PER_BAND = 2;
const skip = !existsSync(join(UTKFACE, 'labels.csv'))
  ? `the UTKFace age set is absent (${UTKFACE}: build it with ../shared/data/recipes)`
  : null;

type Summary = EvalSummary & {
  anchor: AnchorComparison;
  image_model_alone: EvalSummary & { anchor: AnchorComparison };
};

describe.skipIf(skip !== null)(`faceedge eval --head (${skip ?? 'UTKFace test photos, the shipped age pair'})`, () => {
  let dir: string;
  let csv: string;

  /** A copy of the shipped head whose manifest is edited by `edit` (after being pinned to the shipped embedder). */
  function head(name: string, edit: (manifest: Record<string, any>) => void = () => undefined): string {
    const folder = join(dir, '..', `${dir.split('/').pop()}-${name}`);
    mkdirSync(folder);
    copyFileSync(join(HEAD_DIR, HEAD_FILE), join(folder, HEAD_FILE));
    const manifest = JSON.parse(readFileSync(join(HEAD_DIR, 'manifest.json'), 'utf8')) as Record<string, any>;
    manifest.input.embedder.sha256 = createHash('sha256').update(readFileSync(shippedEmbedderPath())).digest('hex');
    edit(manifest);
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
    return join(folder, HEAD_FILE);
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-eval-pair-'));
    const rows = readFileSync(join(UTKFACE, 'labels.csv'), 'utf8').trim().split('\n');
    const header = rows[0].split(',');
    const [pathCol, ageCol] = [header.indexOf('path'), header.indexOf('age')];
    const out = [rows[0]];
    const anchor = ['file,age'];
    for (const band of BANDS) {
      mkdirSync(join(dir, band));
      for (const file of readdirSync(join(UTKFACE, 'test', band))
        .sort()
        .slice(0, PER_BAND)) {
        copyFileSync(join(UTKFACE, 'test', band, file), join(dir, band, file));
        const row = rows.find((r) => r.split(',')[pathCol] === `test/${band}/${file}`);
        if (!row) throw new Error(`labels.csv has no row for test/${band}/${file}`);
        const cells = row.split(',');
        cells[pathCol] = `${band}/${file}`;
        out.push(cells.join(','));
        anchor.push(`${band}/${file},${cells[ageCol]}`);
      }
    }
    writeFileSync(join(dir, 'labels.csv'), `${out.join('\n')}\n`);
    csv = `${dir}-anchor.csv`;
    writeFileSync(csv, `${anchor.join('\n')}\n`);
  });

  afterAll(() => {
    for (const path of readdirSync(tmpdir()).filter((p) => p.startsWith(dir.split('/').pop() as string)))
      rmSync(join(tmpdir(), path), { recursive: true, force: true });
  });

  it('scores the pair as the model under test, the 64×64 model alone beside it, both beside the anchor', async () => {
    const pinned = head('pinned');
    const r = await runCli(['eval', dir, '--json', '--model', AGE_MODEL, '--head', pinned, '--anchor', csv], {
      timeoutMs: 180_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as Summary;
    const alone = summary.image_model_alone;
    expect(summary.pair?.head.path).toBe(pinned);
    expect(summary.pair?.embedder.test_time_flip).toBe(true);
    expect(alone.pair).toBeUndefined();
    // The same images and faces on both rows: only the answers may differ.
    for (const s of [summary, alone])
      expect(s).toMatchObject({ n: BANDS.length * PER_BAND, model: { id: 'faceedge-age' } });
    expect(summary.detected).toBe(alone.detected);
    expect(summary.undetected).toEqual(alone.undetected);
    // Each row's anchor comparison scores that row, beside the same anchor (the true ages: every band right).
    expect(summary.anchor.model.accuracy).toBeCloseTo(summary.accuracy_all as number, 12);
    expect(alone.anchor.model.accuracy).toBeCloseTo(alone.accuracy_all as number, 12);
    expect(summary.anchor.anchor).toEqual(alone.anchor.anchor);
    expect(summary.anchor.anchor.accuracy).toBe(1);
    // The pair's whole path costs more per face than the 64×64 model's invoke alone (the embedder runs twice: flip).
    expect(summary.ms_per_face).toBeGreaterThan(alone.ms_per_face as number);

    const text = await runCli(['eval', dir, '--model', AGE_MODEL, '--head', pinned, '--anchor', csv], {
      timeoutMs: 180_000,
    });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/-- the pair \(the model as it ships\)[\s\S]*-- 64×64 alone/);
    expect(text.stdout).toMatch(/same images, same run\s+pair\s+64×64 alone\s+anchor /);
    expect(text.stdout).toMatch(/ethnicity\s+n\s+pair accuracy\s+64×64 alone accuracy\s+\S+ accuracy/);
  }, 400_000);

  it('refuses, before the run, a head pinned to another embedder or flip, and a head of other labels', async () => {
    for (const [name, edit, message] of [
      [
        'other-embedder',
        (m: Record<string, any>) => (m.input.embedder.sha256 = 'ab'.repeat(32)),
        /does not fit the running embedder.*is not the head's abababababab/,
      ],
      [
        'no-flip',
        (m: Record<string, any>) => (m.input.test_time_flip = false),
        /does not fit the running embedder.*test-time flip is on, the head was trained with it off/,
      ],
      [
        'other-labels',
        (m: Record<string, any>) => (m.labels = [...(m.labels as string[])].reverse()),
        /the head's labels \[60\+, .*\] are not the model's \[0-12, /,
      ],
    ] as const) {
      const r = await runCli(['eval', dir, '--json', '--model', AGE_MODEL, '--head', head(name, edit)]);
      expect(r.code, name).not.toBe(0);
      expect(r.stderr, name).toMatch(message);
      expect(r.stdout, name).toBe('');
      expect(hasStackTrace(r.stderr), name).toBe(false);
    }
  }, 300_000);
});
