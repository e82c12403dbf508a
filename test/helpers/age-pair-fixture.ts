/**
 * The shipped age pair (models/age/: the int8 64×64 model and its head on the face embedding) as signed pair
 * packages for the head-push tests: `<dir>/` the image model package (its manifest listing the int8 file only,
 * the float32 one is not committed) and `<dir>/head/` the head's package. Each test may edit the head's manifest
 * (labels, pairing, embedder pin) through `editHead`, which re-signs it so that only the edit is refused.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signManifest } from '../../src/model-push/model-signature.js';
import { REPO_ROOT } from './run-cli.js';

export const AGE_DIR = join(REPO_ROOT, 'models/age');
export const AGE_HEAD_DIR = join(AGE_DIR, 'head');
export const EMBEDDER_DIR = join(REPO_ROOT, 'models/face-embed');

type Json = Record<string, unknown> & { files: Record<string, { path: string } & Record<string, unknown>> };
const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Json;

/** Why the age pair tests cannot run here, or null. */
export function agePairMissing(): string | null {
  const head = join(AGE_HEAD_DIR, 'faceedge-age-head_float32.tflite');
  const image = join(AGE_DIR, 'faceedge-age_int8.tflite');
  return existsSync(head) && existsSync(image) ? null : 'models/age is incomplete (no int8 model or head)';
}

function sign(dir: string, key: KeyObject | null): void {
  if (key) writeFileSync(join(dir, 'manifest.sig'), signManifest(readFileSync(join(dir, 'manifest.json')), key));
  else rmSync(join(dir, 'manifest.sig'), { force: true });
}

/** The image model package alone at `dir` (int8 only), signed with `key`; `id` renames it. */
export function ageImagePackage(dir: string, key: KeyObject, id?: string): string {
  mkdirSync(dir, { recursive: true });
  const m = read(join(AGE_DIR, 'manifest.json'));
  m.files = { int8: m.files.int8 };
  if (id) m.id = id;
  copyFileSync(join(AGE_DIR, m.files.int8.path), join(dir, m.files.int8.path));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
  sign(dir, key);
  return dir;
}

/** The head package alone at `dir`, its manifest edited by `edit`, signed with `key` (null: unsigned). */
export function ageHeadPackage(dir: string, key: KeyObject | null, edit?: (m: Json) => void): string {
  mkdirSync(dir, { recursive: true });
  const m = read(join(AGE_HEAD_DIR, 'manifest.json'));
  for (const f of Object.values(m.files)) copyFileSync(join(AGE_HEAD_DIR, f.path), join(dir, f.path));
  edit?.(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
  sign(dir, key);
  return dir;
}

/** A pair package: the image model at `dir`, its head at `dir/head` (see ageHeadPackage). */
export function agePairPackage(
  dir: string,
  key: KeyObject,
  edit?: (m: Json) => void,
  headKey: KeyObject | null = key,
): string {
  ageImagePackage(dir, key);
  ageHeadPackage(join(dir, 'head'), headKey, edit);
  return dir;
}

/** The shipped embedder as a running board reports it (its file's sha256, its manifest's flip and size). */
export function shippedEmbedder(): { id: string; sha256: string; flipAverage: boolean; dimensions: number } {
  const m = read(join(EMBEDDER_DIR, 'manifest.json')) as Json & {
    id: string;
    test_time_flip: boolean;
    embedding: { dimensions: number };
  };
  const file = readFileSync(join(EMBEDDER_DIR, m.files.int8.path));
  return {
    id: m.id,
    sha256: createHash('sha256').update(file).digest('hex'),
    flipAverage: m.test_time_flip,
    dimensions: m.embedding.dimensions,
  };
}
