/**
 * `faceedge train --on-embedding --pair-with models/age/manifest.json` end to end on a tiny folder: UTKFace
 * photos of the six age bands (a few per band, already split), the board's detector and the shipped embedder,
 * the real engine (the head grid, export, the pair's combination), packaging. It proves the path, not accuracy:
 * the head manifest's labels and pinned embedder, the pair, that the runtime loads it beside that embedder, the
 * test figures in the report, and that the same command again reuses the embeddings.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingHead } from '../../src/inference/embedding-head.js';
import { FaceEmbedder } from '../../src/inference/face-embedder.js';
import { shippedEmbedderPath } from '../../src/inference/shipped-model.js';
import {
  generateSigningKeyPair,
  loadPublicKey,
  verifyManifestSignature,
} from '../../src/model-push/model-signature.js';
import { REPO_ROOT, hasStackTrace, runCli } from '../helpers/run-cli.js';
import { NO_TORCH, torchPython } from '../helpers/torch-python.js';

const UTKFACE = join(REPO_ROOT, 'data/utkface-age');
const PAIR = join(REPO_ROOT, 'models/age/manifest.json');
const PER_SPLIT = { train: 6, val: 3, test: 3 } as const;

const python = torchPython();
const skip = !existsSync(UTKFACE)
  ? `UTKFace age bands are absent (${UTKFACE}: build it with the data recipes)`
  : python === null
    ? NO_TORCH
    : null;

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

interface HeadManifest {
  id: string;
  labels: string[];
  ordered: boolean;
  input: { kind: string; embedder: { id: string; sha256: string } };
  files: Record<string, { path: string; sha256: string }>;
  combination?: { with: { id: string } };
}

describe.skipIf(skip !== null)(`faceedge train --on-embedding (${skip ?? 'UTKFace, real engine'})`, () => {
  let dir: string;
  const labels = JSON.parse(readFileSync(PAIR, 'utf8')).labels as string[];
  const args = () => [
    'train',
    join(dir, 'photos'),
    '--on-embedding',
    '--pair-with',
    PAIR,
    '--ordered',
    '--labels',
    labels.join(','),
    '--out',
    join(dir, 'models', 'age-head'),
    '--work',
    join(dir, 'work'),
    '--python',
    python ?? '',
    '--epochs',
    '2',
    '--min-per-label',
    '2',
    '--key',
    join(dir, 'signing.key.pem'),
  ];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-train-head-'));
    const key = generateSigningKeyPair();
    writeFileSync(join(dir, 'signing.key.pem'), key.privateKeyPem);
    writeFileSync(join(dir, 'signing.pub.pem'), key.publicKeyPem);
    for (const [split, count] of Object.entries(PER_SPLIT))
      for (const label of labels) {
        const from = join(UTKFACE, split, label);
        const to = join(dir, 'photos', split, label);
        mkdirSync(to, { recursive: true });
        for (const name of readdirSync(from).sort().slice(0, count)) copyFileSync(join(from, name), join(to, name));
      }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a head package pinned to the shipped embedder, paired, that the runtime loads', async () => {
    const r = await runCli(args(), { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(hasStackTrace(r.stderr)).toBe(false);
    for (const stage of ['split', 'embed', 'heads', 'export', 'report', 'package'])
      expect(r.stderr).toMatch(new RegExp(`\\[\\d/6 ${stage}\\]`));
    expect(r.stderr).toMatch(/test head: accuracy [\d.]+ %, macro recall [\d.]+ %, off by more than one [\d.]+ %/);
    expect(r.stderr).toMatch(/test pair: accuracy [\d.]+ %/);
    // embeddings are biometric data: never printed
    expect(r.stderr + r.stdout).not.toMatch(/embedding"?\s*:\s*\[/);

    const out = join(dir, 'models', 'age-head');
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as HeadManifest;
    expect(manifest.id).toBe('age-head');
    expect(manifest.labels).toEqual(labels);
    expect(manifest.ordered).toBe(true);
    expect(manifest.input.kind).toBe('face-embedding');
    expect(manifest.input.embedder.sha256).toBe(sha(shippedEmbedderPath()));
    expect(manifest.combination?.with.id).toBe(JSON.parse(readFileSync(PAIR, 'utf8')).id);
    const file = Object.values(manifest.files)[0];
    expect(sha(join(out, file.path))).toBe(file.sha256);

    const report = JSON.parse(readFileSync(join(dir, 'work', 'report.json'), 'utf8')) as {
      test: { head: { n: number; off_by_more_than_one: number }; pair: { n: number } };
    };
    expect(report.test.head.n).toBeGreaterThan(0);
    expect(report.test.pair.n).toBe(report.test.head.n);
    expect(report.test.head.off_by_more_than_one).toBeGreaterThanOrEqual(0);
    // signed as the 64×64 packages are; pushed as a pair with the image model it was paired with
    const signedBy = verifyManifestSignature(
      readFileSync(join(out, 'manifest.json')),
      readFileSync(join(out, 'manifest.sig')),
      [loadPublicKey(readFileSync(join(dir, 'signing.pub.pem')))],
    );
    expect(r.stderr).toContain(`signed by key ${signedBy}`);
    expect(r.stdout).toContain(`faceedge model push ${dirname(PAIR)} --head ${out} --mqtt`);
    expect(r.stdout).toContain(`faceedge fleet push ${dirname(PAIR)} --head ${out} --name`);

    const head = await EmbeddingHead.create({ modelPath: join(out, file.path) });
    const embedder = await FaceEmbedder.create({ modelPath: shippedEmbedderPath() });
    try {
      head.checkEmbedder(embedder);
      expect(head.pairing).not.toBeNull();
      const logits = await head.logits(new Float32Array(embedder.dimensions).fill(1 / Math.sqrt(embedder.dimensions)));
      expect(logits).toHaveLength(labels.length);
    } finally {
      await head.close();
      await embedder.close();
    }
  }, 600_000);

  it('run again, it reuses the embeddings of the unchanged photos', async () => {
    const r = await runCli(args(), { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[2\/6 embed\] unchanged, reused/);
  }, 600_000);

  it('refuses --init in one line, before any work', async () => {
    const r = await runCli([...args(), '--init', 'model.pt'], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr).toMatch(/--on-embedding does not use --init/);
    expect(r.stderr).not.toMatch(/\[1\/6 split\]/);
  }, 60_000);
});
