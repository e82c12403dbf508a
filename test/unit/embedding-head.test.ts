import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddingHead } from '../../src/inference/embedding-head.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const HEAD_DIR = join(REPO_ROOT, 'models/age/head');
const HEAD = join(HEAD_DIR, 'faceedge-age-head_float32.tflite');
const manifest = () => JSON.parse(readFileSync(join(HEAD_DIR, 'manifest.json'), 'utf8')) as Record<string, any>;
const dir = mkdtempSync(join(tmpdir(), 'faceedge-head-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The shipped head with an edited manifest (its weights never matter: golden values come from the manifest). */
function edited(name: string, edit: (m: Record<string, any>) => void): { modelPath: string; manifestPath: string } {
  const modelPath = join(dir, `${name}.tflite`);
  copyFileSync(HEAD, modelPath);
  const m = manifest();
  m.files.float32.path = `${name}.tflite`;
  edit(m);
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(m));
  return { modelPath, manifestPath: join(dir, `${name}.json`) };
}

describe('EmbeddingHead', () => {
  it('loads the shipped head, passes its golden self-test and gives log-probabilities over its labels', async () => {
    const head = await EmbeddingHead.create({ modelPath: HEAD });
    try {
      const m = manifest();
      expect(head.labels).toEqual(m.labels);
      expect(head.pairing).toEqual({ temperature: m.combination.temperature, unsureFloor: m.combination.unsure_floor });
      const golden = m.selftest[0] as { embedding: number[]; expected_logits: number[] };
      const logits = await head.logits(Float32Array.from(golden.embedding));
      logits.forEach((z, i) => expect(z).toBeCloseTo(golden.expected_logits[i], 3));
      const lp = await head.logProbabilities(Float32Array.from(golden.embedding));
      expect(lp.reduce((s, l) => s + Math.exp(l), 0)).toBeCloseTo(1, 9);
      await expect(head.logits(new Float32Array(5))).rejects.toThrow(/an embedding of 5 values/);
    } finally {
      await head.close();
    }
  });

  it('pairs only beside the image model file it was fitted with (combination.with.sha256), else image only', async () => {
    const fitted = manifest().combination.with.sha256 as string;
    const pairing = {
      temperature: manifest().combination.temperature,
      unsureFloor: manifest().combination.unsure_floor,
    };
    const head = await EmbeddingHead.create({ modelPath: HEAD });
    const unpinned = await EmbeddingHead.create(edited('unpinned', (m) => delete m.combination.with));
    try {
      expect(head.pairingFor(fitted)).toEqual(pairing);
      // A retrained model of the same labels (another file): the fitted temperature and floor mean nothing for it.
      expect(head.pairingFor('0'.repeat(64))).toEqual({ ...pairing, imageOnly: true });
      expect(unpinned.pairingFor(fitted)).toEqual({ ...pairing, imageOnly: true }); // cannot be checked
    } finally {
      await head.close();
      await unpinned.close();
    }
  });

  it('fails its self-test when the manifest’s golden logits are not what the file computes', async () => {
    const options = edited('tampered', (m) => (m.selftest[1].expected_logits[2] += 0.01));
    await expect(EmbeddingHead.create(options)).rejects.toMatchObject({ code: 'MODEL_SELFTEST_FAILED' });
  });

  it('refuses an embedder other than the one it was trained on: sha256, flip or size', async () => {
    const head = await EmbeddingHead.create({ modelPath: HEAD });
    try {
      const want = manifest().input as { embedder: { id: string; sha256: string }; test_time_flip: boolean };
      const running = {
        id: want.embedder.id,
        sha256: want.embedder.sha256,
        flipAverage: want.test_time_flip,
        dimensions: 128,
      };
      expect(() => head.checkEmbedder(running)).not.toThrow();
      expect(() => head.checkEmbedder({ ...running, sha256: 'cd'.repeat(32) })).toThrow(/embedder sha256 cdcdcdcdcdcd/);
      expect(() => head.checkEmbedder({ ...running, flipAverage: !running.flipAverage })).toThrow(/test-time flip/);
      expect(() => head.checkEmbedder({ ...running, dimensions: 512 })).toThrow(
        expect.objectContaining({ code: 'MODEL_INVALID' }),
      );
    } finally {
      await head.close();
    }
  });

  it('refuses a manifest whose input is not a face embedding', async () => {
    const options = edited('image-input', (m) => (m.input = { width: 64, height: 64, channels: 3 }));
    await expect(EmbeddingHead.create(options)).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });
});
