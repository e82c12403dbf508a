/**
 * Accuracy per demographic group, for the fairness table of `faceedge eval --report`: per age band
 * and per ethnicity group, where the evaluated folder (or its parent) has a `labels.csv` with `age`
 * and/or `race` columns (UTKFace's encoding: race 0 White, 1 Black, 2 Asian, 3 Indian, 4 Other).
 * Images without a usable face count as wrong, as in `accuracy_all`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FaceedgeError } from '../errors.js';
import type { ImageOutcome } from './image-outcome.js';

/** UTKFace's race codes. */
export const RACE_NAMES: Readonly<Record<string, string>> = {
  0: 'White',
  1: 'Black',
  2: 'Asian',
  3: 'Indian',
  4: 'Other',
};

/** The group of an image whose labels.csv row leaves the column empty. */
export const UNKNOWN_GROUP = 'unknown';

/** Age bands of the report: 13–19, 20–29, …, 50–59, 60+ (younger ages are their own band). */
export function ageBand(age: number): string {
  if (age < 13) return '<13';
  if (age < 20) return '13-19';
  if (age >= 60) return '60+';
  const decade = Math.floor(age / 10) * 10;
  return `${decade}-${decade + 9}`;
}

/** What a labels.csv row says about one image beyond its class. */
export interface ImageGroups {
  readonly age?: string;
  /** The age in years itself, where the CSV gives one (an anchor's age error is measured against it). */
  readonly years?: number;
  readonly race?: string;
}

export interface GroupRow {
  readonly group: string;
  /** Images in the group. */
  readonly n: number;
  /** Correct / n (images without a usable face count as wrong). */
  readonly accuracy: number;
  /** Per class: correct / images of that class in the group (null when the group has none). */
  readonly recall: Record<string, number | null>;
}

export interface GroupReport {
  /** The labels.csv used. */
  readonly source: string;
  readonly age: readonly GroupRow[];
  readonly race: readonly GroupRow[];
  /** The group with the lowest accuracy among those with at least `MIN_GROUP_SIZE` images. */
  readonly worst: {
    readonly kind: 'age' | 'race';
    readonly group: string;
    readonly accuracy: number;
    readonly n: number;
  } | null;
}

/** Groups smaller than this are listed but cannot be "the worst group" (too noisy to name). */
export const MIN_GROUP_SIZE = 30;

/** Splits one CSV line; the datasets' fields never contain quotes or commas. */
const cells = (line: string) => line.split(',').map((c) => c.trim());

/**
 * The groups of every image of `root` (keys: paths relative to `root`, e.g. `female/x.jpg`), from
 * `root/labels.csv` or `root/../labels.csv`; null when neither exists or has no age/race column.
 */
export async function readImageGroups(
  root: string,
): Promise<{ source: string; groups: Map<string, ImageGroups> } | null> {
  const dir = resolve(root);
  const candidates = [
    { csv: join(dir, 'labels.csv'), prefix: '' },
    { csv: join(dirname(dir), 'labels.csv'), prefix: `${basename(dir)}/` },
  ];
  const found = candidates.find((c) => existsSync(c.csv));
  if (!found) return null;
  const lines = (await readFile(found.csv, 'utf8')).split(/\r?\n/).filter((l) => l.length > 0);
  const header = cells(lines[0] ?? '');
  const col = (name: string) => header.indexOf(name);
  const [pathCol, ageCol, raceCol] = [col('path'), col('age'), col('race')];
  if (pathCol < 0)
    throw new FaceedgeError('DATASET_INVALID', `${found.csv} has no "path" column`, {
      hint: 'expected path,label,…,age,race',
    });
  if (ageCol < 0 && raceCol < 0) return null;
  const groups = new Map<string, ImageGroups>();
  lines.slice(1).forEach((line, i) => {
    const row = cells(line);
    const path = row[pathCol];
    if (!path.startsWith(found.prefix)) return;
    const age = ageCol >= 0 ? Number(row[ageCol]) : NaN;
    if (ageCol >= 0 && !Number.isFinite(age)) {
      throw new FaceedgeError('DATASET_INVALID', `${found.csv} line ${i + 2}: age "${row[ageCol]}" is not a number`);
    }
    const race = raceCol >= 0 ? row[raceCol] : undefined;
    groups.set(path.slice(found.prefix.length), {
      age: ageCol >= 0 ? ageBand(age) : undefined,
      years: ageCol >= 0 ? age : undefined,
      // A few UTKFace names carry no race code: their row says so rather than forming a nameless group.
      race: race === undefined ? undefined : (RACE_NAMES[race] ?? (race === '' ? UNKNOWN_GROUP : race)),
    });
  });
  return { source: found.csv, groups };
}

function rows(
  outcomes: readonly ImageOutcome[],
  labels: readonly string[],
  groupOf: (o: ImageOutcome) => string | undefined,
): GroupRow[] {
  const byGroup = new Map<string, ImageOutcome[]>();
  for (const o of outcomes) {
    const g = groupOf(o);
    if (g !== undefined) byGroup.set(g, [...(byGroup.get(g) ?? []), o]);
  }
  const correct = (o: ImageOutcome) => o.status === 'classified' && o.predicted === o.truth;
  return [...byGroup.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([group, items]) => ({
      group,
      n: items.length,
      accuracy: items.filter(correct).length / items.length,
      recall: Object.fromEntries(
        labels.map((l) => {
          const ofClass = items.filter((o) => o.truth === l);
          return [l, ofClass.length > 0 ? ofClass.filter(correct).length / ofClass.length : null];
        }),
      ),
    }));
}

/** Accuracy and per-class recall per age band and ethnicity group of the evaluated images. */
export function groupReport(
  outcomes: readonly ImageOutcome[],
  labels: readonly string[],
  source: string,
  groups: ReadonlyMap<string, ImageGroups>,
): GroupReport {
  const age = rows(outcomes, labels, (o) => groups.get(o.file)?.age);
  const race = rows(outcomes, labels, (o) => groups.get(o.file)?.race);
  const candidates = [
    ...age.map((r) => ({ kind: 'age' as const, ...r })),
    ...race.map((r) => ({ kind: 'race' as const, ...r })),
  ].filter((r) => r.n >= MIN_GROUP_SIZE);
  const lowest = candidates.reduce<(typeof candidates)[number] | null>(
    (w, r) => (w === null || r.accuracy < w.accuracy ? r : w),
    null,
  );
  return {
    source,
    age,
    race,
    worst: lowest && { kind: lowest.kind, group: lowest.group, accuracy: lowest.accuracy, n: lowest.n },
  };
}
