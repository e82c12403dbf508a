/**
 * Soft gender labels from a larger public model, for distillation.
 *
 *   npx tsx train/teacher/label.ts <dataset> <out.csv> [--splits train,val] [--shard 0/2]
 *
 * <dataset> is laid out like ../shared/data/faces-dev: {split}/{female,male}/*.jpg. For every image the
 * teacher (the `faceres` model of @vladmandic/human 3.3.6, ~100 ms per image on WASM, 97.4 % on faces-dev
 * test) gives P(male); one CSV row per image: split,label,file,p_male (p_male empty where it found no face).
 * The training script blends these with the ground-truth labels (`--teacher`). The output is appended to and
 * already-labelled files are skipped, so an interrupted run resumes and shards can share nothing but the
 * dataset (run one shard per core, then concatenate).
 *
 * This is a development tool: its dependencies live in train/teacher/package.json (`npm install` there), not
 * in the runtime, not in CI, and nothing of the teacher ships in models/.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { listLabeledImages } from '../../src/dataset/labeled-folder.js';
import { loadTeacher, parseShard } from './human-teacher.js';

interface Options {
  dataset: string;
  out: string;
  splits: string[];
  shard: number;
  shards: number;
}

function parseArgs(argv: string[]): Options {
  const positional: string[] = [];
  let splits = ['train', 'val'];
  let shard = { shard: 0, shards: 1 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--splits') splits = argv[++i].split(',');
    else if (argv[i] === '--shard') shard = parseShard(argv[++i]);
    else positional.push(argv[i]);
  }
  if (positional.length !== 2)
    throw new Error('usage: label.ts <dataset> <out.csv> [--splits train,val] [--shard i/n]');
  return { dataset: positional[0], out: positional[1], splits, ...shard };
}

/** Human reports gender plus genderScore = 2|p - 0.5| (truncated to 0.01); turn that back into P(male). */
function probabilityMale(face: { gender?: string; genderScore?: number } | undefined): number | undefined {
  if (!face || (face.gender !== 'male' && face.gender !== 'female') || face.genderScore === undefined) return undefined;
  const half = face.genderScore / 2;
  return face.gender === 'male' ? 0.5 + half : 0.5 - half;
}

function alreadyLabelled(out: string): Set<string> {
  if (!existsSync(out)) return new Set();
  return new Set(
    readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((row) => row.split(',').slice(0, 3).join('/')),
  );
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const done = alreadyLabelled(options.out);
  const work = (await listLabeledImages(options.dataset)).filter((image) => options.splits.includes(image.split));
  const mine = work.filter((image, i) => i % options.shards === options.shard && !done.has(image.relative));
  const teacher = await loadTeacher();
  const started = Date.now();
  let noFace = 0;
  for (const [i, item] of mine.entries()) {
    let pMale: number | undefined;
    const file = path.basename(item.path);
    try {
      pMale = probabilityMale((await teacher.faces(item.path))[0]);
    } catch (error) {
      console.error(`${item.relative}: ${(error as Error).message}`);
    }
    if (pMale === undefined) noFace++;
    appendFileSync(options.out, `${item.split},${item.label},${file},${pMale === undefined ? '' : pMale.toFixed(3)}\n`);
    if ((i + 1) % 500 === 0) {
      const rate = (Date.now() - started) / (i + 1);
      console.log(`${i + 1}/${mine.length}  ${rate.toFixed(0)} ms/image  ${noFace} without a face`);
    }
  }
  console.log(`labelled ${mine.length} images (${noFace} without a face) into ${options.out}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
