/**
 * The anchor file of `faceedge eval --anchor`: another estimator's age for every image of the evaluated folder,
 * written by `train/teacher/age.ts` (`@vladmandic/human` 3.3.6). Header `file,age`, then one row per image: its
 * path relative to the folder as eval names it (`20-29/x.jpg`) and the age in years, empty where that estimator
 * found no face.
 */
import { readFile } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';

/** The anchor file's first line. */
export const ANCHOR_CSV_HEADER = 'file,age';

/** Age per image (years), null where the anchor found no face; keys as eval's `ImageOutcome.file`. */
export type AnchorAges = ReadonlyMap<string, number | null>;

/** Parses an anchor file's text; `source` names it in errors. Throws DATASET_INVALID on any malformed line. */
export function parseAnchorCsv(text: string, source: string): AnchorAges {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== ANCHOR_CSV_HEADER) {
    throw new FaceedgeError(
      'DATASET_INVALID',
      `${source}: not an anchor file (first line is not "${ANCHOR_CSV_HEADER}")`,
      {
        hint: 'write it with train/teacher/age.ts <eval folder> <out.csv>',
      },
    );
  }
  const ages = new Map<string, number | null>();
  lines.slice(1).forEach((line, i) => {
    if (line.trim() === '') return;
    // The file name may hold commas; the age never does.
    const comma = line.lastIndexOf(',');
    const [file, cell] = comma < 0 ? [line, undefined] : [line.slice(0, comma), line.slice(comma + 1).trim()];
    const where = `${source} line ${i + 2}`;
    if (cell === undefined || file === '') throw new FaceedgeError('DATASET_INVALID', `${where}: expected file,age`);
    const age = cell === '' ? null : Number(cell);
    if (age !== null && !(Number.isFinite(age) && age >= 0 && age < 150)) {
      throw new FaceedgeError('DATASET_INVALID', `${where}: age "${cell}" is not an age in years`);
    }
    if (ages.has(file)) throw new FaceedgeError('DATASET_INVALID', `${where}: ${file} is listed twice`);
    ages.set(file, age);
  });
  return ages;
}

/** Reads and parses an anchor file. Throws DATASET_INVALID when it cannot be read or is malformed. */
export async function readAnchorCsv(path: string): Promise<AnchorAges> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new FaceedgeError('DATASET_INVALID', `cannot read the anchor file ${path}: ${(err as Error).message}`);
  }
  return parseAnchorCsv(text, path);
}
