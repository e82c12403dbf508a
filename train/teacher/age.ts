/**
 * The age anchor of `faceedge eval --anchor`: the age `@vladmandic/human` 3.3.6 estimates for every image of an
 * eval folder, in years, as it said it.
 *
 *   npx tsx train/teacher/age.ts <dir> <out.csv> [--shard 0/2]
 *
 * <dir> is what `faceedge eval` takes: `<dir>/<label>/*` (the same listing, `listLabeledImages`). The CSV starts
 * with the header `file,age`, then one row per image: its path relative to <dir> (`20-29/x.jpg`, as eval names
 * it) and Human's age with one decimal, empty where Human found no face. Binning into bands is eval's job (with
 * the model manifest's bands), so the raw age is kept. The output is appended to and files already in it are
 * skipped, so an interrupted run resumes; shards share nothing but the folder (one per free core), then merge:
 *
 *   (head -1 a.csv; tail -qn +2 a.csv b.csv | sort) > anchor.csv
 *
 * ~100 ms per image per core on WASM. A development tool (see human-teacher.ts): nothing of it ships.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { listLabeledImages } from '../../src/dataset/labeled-folder.js';
import { loadTeacher, parseShard } from './human-teacher.js';

/** The CSV's first line; `faceedge eval --anchor` checks it. */
const HEADER = 'file,age';

function parseArgs(argv: string[]): { dir: string; out: string; shard: number; shards: number } {
  const positional: string[] = [];
  let shard = { shard: 0, shards: 1 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--shard') shard = parseShard(argv[++i]);
    else positional.push(argv[i]);
  }
  if (positional.length !== 2) throw new Error('usage: age.ts <dir> <out.csv> [--shard i/n]');
  return { dir: positional[0], out: positional[1], ...shard };
}

/** Files already in `out` (a resumed run skips them); writes the header to a new file. */
function startOutput(out: string): Set<string> {
  if (!existsSync(out)) {
    appendFileSync(out, `${HEADER}\n`);
    return new Set();
  }
  const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  if (lines[0] !== HEADER) throw new Error(`${out} exists but does not start with "${HEADER}": not an age anchor file`);
  return new Set(lines.slice(1).map((row) => row.slice(0, row.lastIndexOf(','))));
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const done = startOutput(options.out);
  const images = await listLabeledImages(options.dir);
  if (images.some((image) => image.split !== '')) throw new Error(`${options.dir} holds splits: give one split`);
  const mine = images.filter((image, i) => i % options.shards === options.shard && !done.has(image.relative));
  const teacher = await loadTeacher();
  const started = Date.now();
  let noFace = 0;
  for (const [i, item] of mine.entries()) {
    let age: number | undefined;
    try {
      age = (await teacher.faces(item.path))[0]?.age;
    } catch (error) {
      console.error(`${item.relative}: ${(error as Error).message}`);
    }
    const years = age !== undefined && Number.isFinite(age) ? age.toFixed(1) : '';
    if (years === '') noFace++;
    appendFileSync(options.out, `${item.relative},${years}\n`);
    if ((i + 1) % 200 === 0) {
      const rate = (Date.now() - started) / (i + 1);
      console.log(`${i + 1}/${mine.length}  ${rate.toFixed(0)} ms/image  ${noFace} without a face`);
    }
  }
  console.log(`estimated ${mine.length} ages (${noFace} without a face) into ${options.out}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
