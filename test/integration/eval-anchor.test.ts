/**
 * `faceedge eval --anchor` end to end: the real detector and the real age-band model over a few UTKFace test
 * photos, beside an anchor file written here (ages from labels.csv, one left empty as "no face"), so what the
 * anchor scores is known exactly; and anchor files that do not belong to the folder refused before the run.
 * Needs the UTKFace age set and the exported age model under data/ (git-ignored): skipped without them.
 */
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
import { afterAll, describe, expect, it } from 'vitest';
import type { AnchorComparison } from '../../src/evaluation/anchor-comparison.js';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/run-cli.js';

const UTKFACE = join(REPO_ROOT, 'data/utkface-age');
const AGE_MODEL = join(REPO_ROOT, 'data/heads/age-s2-export/faceedge-age_int8.tflite');
const BANDS = ['20-29', '30-44', '60+'];
const PER_BAND = 3;
const skip = !existsSync(join(UTKFACE, 'labels.csv'))
  ? `the UTKFace age set is absent (${UTKFACE}: build it with ../shared/data/recipes)`
  : !existsSync(AGE_MODEL)
    ? `the exported age model is absent (${AGE_MODEL})`
    : null;

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** A folder of the first PER_BAND test photos of each band, with their labels.csv rows; returns it and the ages. */
function smallSet(): { dir: string; years: Map<string, number> } {
  const dir = mkdtempSync(join(tmpdir(), 'faceedge-eval-anchor-'));
  temps.push(dir);
  const rows = readFileSync(join(UTKFACE, 'labels.csv'), 'utf8').trim().split('\n');
  const header = rows[0].split(',');
  const [pathCol, ageCol] = [header.indexOf('path'), header.indexOf('age')];
  const years = new Map<string, number>();
  const out = [rows[0]];
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
      years.set(`${band}/${file}`, Number(cells[ageCol]));
    }
  }
  writeFileSync(join(dir, 'labels.csv'), `${out.join('\n')}\n`);
  return { dir, years };
}

describe.skipIf(skip !== null)(`faceedge eval --anchor (${skip ?? 'UTKFace test photos, the age model'})`, () => {
  it('scores the anchor beside the model on the same images, with the same code, per group too', async () => {
    const { dir, years } = smallSet();
    const files = [...years.keys()];
    // The anchor knows every true age but found no face in the first photo: 8 of 9 right, its age error 0.
    const csv = join(dir, '..', `${dir.split('/').pop()}-anchor.csv`);
    temps.push(csv);
    writeFileSync(
      csv,
      ['file,age', ...files.map((f, i) => `${f},${i === 0 ? '' : (years.get(f) ?? 0) + 0.4}`)].join('\n'),
    );
    // Outside the folder: a report inside it would be a class folder of the next run.
    const report = `${dir}-report`;
    temps.push(report);
    const r = await runCli(
      [
        'eval',
        dir,
        '--json',
        '--model',
        AGE_MODEL,
        '--anchor',
        csv,
        '--anchor-name',
        'human-3.3.6',
        '--report',
        report,
      ],
      { timeoutMs: 180_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { n: number; accuracy_all: number; anchor: AnchorComparison };
    const { anchor: compared } = summary;
    expect(compared.name).toBe('human-3.3.6');
    expect(compared.anchor).toMatchObject({ n: 9, answered: 8, no_face: 1 });
    expect(compared.anchor.accuracy).toBeCloseTo(8 / 9);
    expect(compared.anchor.recall).toEqual({
      '0-12': null,
      '13-19': null,
      '20-29': 2 / 3,
      '30-44': 1,
      '45-59': null,
      '60+': 1,
    });
    expect(compared.anchor.off_by_more_than_one).toBeCloseTo(1 / 9);
    expect(compared.anchor_mae_years).toBeCloseTo(0.4);
    // The model's side is its own run: the same images, a no-face image wrong, as eval's accuracy_all.
    expect(compared.model.n).toBe(summary.n);
    expect(compared.model.accuracy).toBeCloseTo(summary.accuracy_all);
    expect(compared.groups?.anchor.age.map((g) => g.group)).toEqual(compared.groups?.model.age.map((g) => g.group));
    // --report keeps the comparison beside the report files.
    expect(JSON.parse(readFileSync(join(report, 'anchor.json'), 'utf8'))).toEqual(compared);

    const text = await runCli(['eval', dir, '--model', AGE_MODEL, '--anchor', csv, '--anchor-name', 'human-3.3.6'], {
      timeoutMs: 180_000,
    });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/same images, same run\s+model\s+anchor human-3\.3\.6/);
    expect(text.stdout).toMatch(/band accuracy\s+\d+\.\d %\s+88\.9 %/);
    expect(text.stdout).toMatch(/no face \(counted as wrong\)\s+\d+\s+1/);
    expect(text.stdout).toMatch(/ethnicity\s+n\s+model accuracy\s+human-3\.3\.6 accuracy/);
  }, 400_000);

  it('refuses an anchor file of another folder, or one missing images, before the run', async () => {
    const { dir, years } = smallSet();
    const files = [...years.keys()];
    const foreign = join(dir, 'foreign.csv');
    writeFileSync(foreign, ['file,age', ...files.map((f) => `${f},30`), '20-29/not-here.jpg,25'].join('\n'));
    const missing = join(dir, 'missing.csv');
    writeFileSync(missing, ['file,age', ...files.slice(1).map((f) => `${f},30`)].join('\n'));
    for (const [csv, message] of [
      [foreign, /1 of its 10 rows name files not in .*\(first: 20-29\/not-here\.jpg\)/],
      [missing, /1 of the 9 images of .* have no row \(first: 20-29\//],
      [join(dir, 'absent.csv'), /cannot read the anchor file/],
    ] as const) {
      const r = await runCli(['eval', dir, '--model', AGE_MODEL, '--anchor', csv]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    const gender = await runCli(['eval', dir, '--anchor', foreign]);
    expect(gender.code).not.toBe(0);
    expect(gender.stderr).toMatch(/not age bands/);
  }, 300_000);
});
