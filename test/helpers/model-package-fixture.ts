/**
 * A real classifier package (manifest.json + the .tflite files it lists, with golden self-test
 * cases) for the model-push tests, copied into temp folders so each test can corrupt, re-sign or
 * edit its own. Taken from $FACEEDGE_TEST_MODEL's folder when set, else the shipped `models/`.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { signManifest } from '../../src/model-push/model-signature.js';
import { REPO_ROOT } from './run-cli.js';

type Manifest = {
  id: string;
  files: Record<string, { path: string; sha256: string; bytes: number; dtype: string }>;
  selftest?: unknown[];
} & Record<string, unknown>;

function complete(dir: string): boolean {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return false;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    return Object.values(m.files ?? {}).every((f) => existsSync(join(dir, f.path))) && (m.selftest?.length ?? 0) > 0;
  } catch {
    return false;
  }
}

export function modelPackageSource(): string | null {
  const candidates = [
    process.env.FACEEDGE_TEST_MODEL ? dirname(resolve(process.env.FACEEDGE_TEST_MODEL)) : null,
    join(REPO_ROOT, 'models'),
  ];
  return candidates.find((d): d is string => d !== null && complete(d)) ?? null;
}

export const NO_MODEL_PACKAGE_REASON =
  'no classifier package with self-test cases: models/ is incomplete and FACEEDGE_TEST_MODEL is unset';

export const BLAZEFACE = join(REPO_ROOT, 'node_modules/@mediapipe/face_detection/face_detection_short_range.tflite');

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

export function writeManifest(dir: string, manifest: Manifest): void {
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

/** Copies the package (manifest + listed files) into `dest`; `id` renames it (a "new" model). */
export function copyModelPackage(src: string, dest: string, id?: string): string {
  mkdirSync(dest, { recursive: true });
  const m = readManifest(src);
  for (const f of Object.values(m.files)) copyFileSync(join(src, f.path), join(dest, f.path));
  if (id) m.id = id;
  writeManifest(dest, m);
  return dest;
}

/** Writes manifest.sig for the folder's current manifest bytes. */
export function signPackage(dir: string, key: KeyObject): void {
  writeFileSync(join(dir, 'manifest.sig'), signManifest(readFileSync(join(dir, 'manifest.json')), key));
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
