/**
 * The embed stage of `faceedge train --on-embedding` stops cleanly and resumes: a stop ends after the photo in
 * hand with every line of the file whole, and a line cut short by a harder end (a kill mid-write) is cut off
 * before the next run appends, so the engine never reads a broken record. Real faces-dev photos through the
 * shipped detector and embedder.
 */
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { FaceEmbedder } from '../../src/inference/face-embedder.js';
import { shippedEmbedderPath } from '../../src/inference/shipped-model.js';
import { embedLabelledFaces } from '../../src/training/embed-labelled-faces.js';
import { FACES_DEV, NO_FACES_DEV } from '../helpers/faces-dev-gallery.js';

/** Every line of the file as a record; throws on a line that is not a whole JSON record. */
function records(file: string): { source: string; path: string }[] {
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { source: string; path: string });
}

describe.skipIf(NO_FACES_DEV !== null)(
  `embedding labelled photos, stopped and resumed (${NO_FACES_DEV ?? 'faces-dev'})`,
  () => {
    let dir: string;
    let detector: FaceDetector;
    let embedder: FaceEmbedder;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'faceedge-embed-stop-'));
      for (const label of ['female', 'male']) {
        const to = join(dir, 'photos', 'train', label);
        mkdirSync(to, { recursive: true });
        const from = join(FACES_DEV, 'val', label);
        for (const name of readdirSync(from).sort().slice(0, 3)) copyFileSync(join(from, name), join(to, name));
      }
      detector = await FaceDetector.create();
      embedder = await FaceEmbedder.create({ modelPath: shippedEmbedderPath() });
    });
    afterAll(async () => {
      await detector?.close();
      await embedder?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('stops after the photo in hand, leaves whole lines, and the next run does only the rest', async () => {
      const out = join(dir, 'stop', 'embeddings.jsonl');
      const stop = new AbortController();
      const common = { sources: [['photos', join(dir, 'photos')] as const], out, detector, embedder };
      const first = await embedLabelledFaces({
        ...common,
        stop: stop.signal,
        onPhoto: (written) => {
          if (written === 2) stop.abort(); // Ctrl-C while the third photo is not yet started
        },
      });
      expect(first).toEqual({ written: 2, total: 6, stopped: true });
      expect(records(out)).toHaveLength(2);

      const rest = await embedLabelledFaces(common);
      expect(rest).toEqual({ written: 4, total: 6, stopped: false });
      const all = records(out).map((r) => r.path);
      expect(all).toHaveLength(6);
      expect(new Set(all).size).toBe(6);
    });

    it('cuts off a line a kill left half-written before appending, and does that photo again', async () => {
      const out = join(dir, 'killed', 'embeddings.jsonl');
      const stop = new AbortController();
      const common = { sources: [['photos', join(dir, 'photos')] as const], out, detector, embedder };
      await embedLabelledFaces({ ...common, stop: stop.signal, onPhoto: (n) => n === 3 && stop.abort() });
      appendFileSync(out, '{"source":"photos","split":"train","label":"male","path":"train/male/'); // killed mid-write

      const rest = await embedLabelledFaces(common);
      expect(rest.written).toBe(3);
      const all = records(out).map((r) => r.path);
      expect(new Set(all).size).toBe(6);
    });

    it('refuses, with the line and what to do, a file broken in the middle', async () => {
      const out = join(dir, 'broken', 'embeddings.jsonl');
      mkdirSync(join(dir, 'broken'));
      appendFileSync(out, '{"source":"photos","path":"train/female/a.jpg"}\n{"source":"pho{"source":"x"}\n');
      await expect(
        embedLabelledFaces({ sources: [['photos', join(dir, 'photos')]], out, detector, embedder }),
      ).rejects.toThrow(/embeddings\.jsonl line 2 is not a whole record/);
    });
  },
);
