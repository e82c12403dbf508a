/**
 * Ctrl-C during `faceedge train --on-embedding`'s embed stage (in the command's own process, not the Python
 * engine's) stops it cleanly: exit 130, one line saying to run the same command again, the embeddings file left
 * whole and not marked done; the same command then resumes and finishes. Real faces-dev photos, the real engine.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, hasStackTrace, runCli, spawnCli } from '../helpers/run-cli.js';
import { NO_TORCH, torchPython } from '../helpers/torch-python.js';

const FACES_DEV = join(REPO_ROOT, '../shared/data/faces-dev');
const PER_SPLIT = { train: 12, val: 4, test: 4 } as const;

const python = torchPython();
const skip = !existsSync(join(FACES_DEV, 'train'))
  ? `faces-dev is absent (${FACES_DEV})`
  : python === null
    ? NO_TORCH
    : null;

describe.skipIf(skip !== null)(`faceedge train --on-embedding, stopped (${skip ?? 'faces-dev, real engine'})`, () => {
  let dir: string;
  const args = () => [
    'train',
    join(dir, 'photos'),
    '--on-embedding',
    '--out',
    join(dir, 'models', 'gender-head'),
    '--work',
    join(dir, 'work'),
    '--python',
    python ?? '',
    '--epochs',
    '2',
    '--min-per-label',
    '2',
  ];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-train-head-stop-'));
    for (const [split, count] of Object.entries(PER_SPLIT))
      for (const label of ['female', 'male']) {
        const from = join(FACES_DEV, split, label);
        const to = join(dir, 'photos', split, label);
        mkdirSync(to, { recursive: true });
        for (const name of readdirSync(from).sort().slice(0, count)) copyFileSync(join(from, name), join(to, name));
      }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('Ctrl-C in the embed stage: exit 130, the file whole and not done; the same command resumes', async () => {
    const child = spawnCli(args());
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        // Only this process gets the signal (as from `kill -INT`), while it embeds in-process.
        if (/\[2\/6 embed\]/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('close', (status) => resolve(status));
    });
    expect(code, stderr).toBe(130);
    expect(hasStackTrace(stderr)).toBe(false);
    expect(stderr).toContain('stopped (SIGINT); run the same command again to resume where it stopped');
    expect(stderr).not.toMatch(/\[3\/6 heads\]/);
    const file = join(dir, 'work', 'embeddings.jsonl');
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      if (text) expect(text.endsWith('\n')).toBe(true);
    }
    expect(existsSync(join(dir, 'work', 'embeddings.done'))).toBe(false);

    const resumed = await runCli(args(), { timeoutMs: 600_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/\[2\/6 embed\] unchanged/);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const paths = lines.map((line) => (JSON.parse(line) as { path: string }).path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths).toHaveLength(2 * (PER_SPLIT.train + PER_SPLIT.val + PER_SPLIT.test));
  }, 600_000);
});
