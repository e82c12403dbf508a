/**
 * `scripts/heads/embed-faces.ts` through the real detector, embedder and classifier: one JSON line per
 * photo with its split, label, labels.csv groups, the unit embedding and the 64×64 classifier's
 * probabilities on the same face; an unreadable photo is a line saying so; a second run resumes (writes
 * nothing twice).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shippedModelPath } from '../../src/inference/shipped-model.js';

const run = promisify(execFile);
const FACE = join('test', 'fixtures', 'golden', 'astronaut.png');

interface EmbeddingLine {
  source: string;
  split: string;
  label: string;
  path: string;
  status: string;
  groups?: Record<string, string>;
  embedding?: number[];
  models?: Record<string, { label: string; probabilities: number[] }>;
}

async function embed(root: string, out: string): Promise<string> {
  const { stdout } = await run(
    join('node_modules', '.bin', 'tsx'),
    [
      'scripts/heads/embed-faces.ts',
      '--source',
      `tiny=${root}`,
      '--classifier',
      `gender=${shippedModelPath()}`,
      '--out',
      out,
    ],
    { timeout: 120_000 },
  );
  return stdout;
}

const readLines = async (path: string): Promise<EmbeddingLine[]> =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EmbeddingLine);

describe('scripts/heads/embed-faces.ts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faceedge-embed-faces-'));
    for (const split of ['train', 'val', 'test']) {
      await mkdir(join(dir, 'photos', split, 'female'), { recursive: true });
      await copyFile(FACE, join(dir, 'photos', split, 'female', 'a.png'));
    }
    await writeFile(join(dir, 'photos', 'test', 'female', 'broken.jpg'), 'not a photo');
    await writeFile(
      join(dir, 'photos', 'labels.csv'),
      'path,label,age,gender,race\ntest/female/a.png,female,42,female,2\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one line per photo through the board path, and resumes without repeating one', async () => {
    const out = join(dir, 'embeddings.jsonl');
    expect(await embed(join(dir, 'photos'), out)).toContain('done: 4 photos');
    const lines = await readLines(out);
    expect(lines.map((l) => `${l.split}/${l.status}`).sort()).toEqual([
      'test/ok',
      'test/unreadable',
      'train/ok',
      'val/ok',
    ]);
    const test = lines.find((l) => l.path === 'test/female/a.png');
    expect(test?.groups).toEqual({ age: '42', gender: 'female', race: '2' });
    const embedding = test?.embedding ?? [];
    expect(embedding).toHaveLength(128);
    expect(Math.hypot(...embedding)).toBeCloseTo(1, 3);
    const gender = test?.models?.gender;
    expect(gender?.probabilities).toHaveLength(2);
    expect(['female', 'male']).toContain(gender?.label);
    // the same photo in another split is the same face: the same embedding
    expect(lines.find((l) => l.path === 'train/female/a.png')?.embedding).toEqual(embedding);

    expect(await embed(join(dir, 'photos'), out)).toContain('done: 0 photos');
    expect(await readLines(out)).toHaveLength(4);
  }, 240_000);
});
