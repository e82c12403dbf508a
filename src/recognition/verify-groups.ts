/**
 * Verification figures per group of people (e.g. perceived gender from `image-gender.csv`): a pair
 * belongs to a group when both its photos are labelled with it (same-person pairs always are, unless
 * the labels disagree; different-person pairs across groups go to `mixed`). Thresholds are never
 * chosen per group: the k-fold accuracy uses the thresholds chosen on all pairs of the other folds, and
 * TAR/FAR use the model's own threshold — the figures say how one deployed setting treats each group.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { accuracyAt, bestThreshold, type ScoredPair } from './verification-metrics.js';

/** Pairs whose two photos carry different group labels. */
export const MIXED_GROUP = 'mixed';

export interface GroupSummary {
  readonly pairs: number;
  /** Same-person pairs in the group. */
  readonly same: number;
  /** k-fold accuracy (thresholds from all pairs of the other folds), or at the best all-pairs threshold without folds. */
  readonly accuracy: number;
  /** Share of the group's same-person pairs accepted at the model's threshold (missing faces rejected). */
  readonly tar: number;
  /** Share of the group's different-person pairs accepted at the model's threshold. */
  readonly far: number;
}

/**
 * Reads a labels CSV `path,<label>` (header first; paths relative to the CSV's folder) into a map of
 * absolute photo path → label. Throws DATASET_INVALID naming the first bad line.
 */
export async function readGroupLabels(csvPath: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch (cause) {
    throw new FaceedgeError('DATASET_INVALID', `cannot read ${csvPath}: ${(cause as Error).message}`, { cause });
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  if (header.length !== 2 || header[0] !== 'path') {
    throw new FaceedgeError('DATASET_INVALID', `${csvPath}: the header must be path,<label>`, {
      hint: `found: ${header.join(',')}`,
    });
  }
  const baseDir = dirname(resolve(csvPath));
  const labels = new Map<string, string>();
  lines.forEach((line, i) => {
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== 2 || !cells[0] || !cells[1]) {
      throw new FaceedgeError('DATASET_INVALID', `${csvPath} line ${i + 2}: expected path,${header[1]}`);
    }
    labels.set(resolve(baseDir, cells[0]), cells[1]);
  });
  return labels;
}

/** The group of a pair of photos, or null when either photo has no label. */
export function pairGroup(labels: ReadonlyMap<string, string>, pathA: string, pathB: string): string | null {
  const a = labels.get(pathA);
  const b = labels.get(pathB);
  if (a === undefined || b === undefined) return null;
  return a === b ? a : MIXED_GROUP;
}

/**
 * Per-group figures of `pairs` (each with its group, null = unlabelled and left out) at the model's
 * `threshold`. Groups in label order; unlabelled pairs are counted nowhere.
 */
export function summarizeGroups(
  pairs: readonly (ScoredPair & { readonly group: string | null })[],
  threshold: number,
): Record<string, GroupSummary> {
  const folds = [...new Set(pairs.map((p) => p.fold))];
  const kFold = folds.length > 1 && folds.every((f) => f !== null);
  const foldThreshold = new Map(
    kFold ? folds.map((f) => [f, bestThreshold(pairs.filter((p) => p.fold !== f))]) : [[null, bestThreshold(pairs)]],
  );
  const groups = [...new Set(pairs.map((p) => p.group).filter((g): g is string => g !== null))].sort();
  const share = (n: number, of: number) => (of === 0 ? 0 : n / of);
  const accepted = (p: ScoredPair) => p.score !== null && p.score >= threshold;
  return Object.fromEntries(
    groups.map((group) => {
      const mine = pairs.filter((p) => p.group === group);
      const same = mine.filter((p) => p.same);
      const different = mine.filter((p) => !p.same);
      let right = 0;
      for (const [fold, t] of foldThreshold) {
        const held = mine.filter((p) => !kFold || p.fold === fold);
        right += held.length * (held.length ? accuracyAt(held, t) : 0);
      }
      return [
        group,
        {
          pairs: mine.length,
          same: same.length,
          accuracy: share(right, mine.length),
          tar: share(same.filter(accepted).length, same.length),
          far: share(different.filter(accepted).length, different.length),
        },
      ];
    }),
  );
}
