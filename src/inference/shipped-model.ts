/**
 * Where the classifier shipped with faceedge lives: `models/` at the package root, found from this
 * source file (not the working directory) so `faceedge classify` works from any folder, whether it
 * runs from the TypeScript sources or the built `dist/` tree.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import type { DelegateSpec } from './delegate.js';
import { FaceClassifier } from './face-classifier.js';

/** File name of the shipped int8 classifier inside `models/`. */
export const SHIPPED_MODEL_FILE = 'faceedge-gender_int8.tflite';

/** The package root: the nearest folder above this file that holds `package.json`. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  // src/inference → repo root in development; dist/src/inference → repo root in a build.
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    dir = parent;
  }
  return dir;
}

/** Absolute path of the shipped int8 classifier (`<package root>/models/faceedge-gender_int8.tflite`). */
export function shippedModelPath(): string {
  return join(packageRoot(), 'models', SHIPPED_MODEL_FILE);
}

/** The shipped face embedder: `models/face-embed/` at the package root (its own folder and manifest). */
export function shippedEmbedderPath(): string {
  return join(packageRoot(), 'models', 'face-embed', 'faceedge-face-embed_int8.tflite');
}

/** The shipped anti-spoofing network (MiniFASNet): `models/liveness/` at the package root. */
export function shippedAntiSpoofPath(): string {
  return join(packageRoot(), 'models', 'liveness', 'minifasnet-v1se-80_float32.tflite');
}

/**
 * The classifier a command should load: `requested` (a user path, relative to the working
 * directory as usual on a command line) or else the shipped model.
 */
export function resolveModelPath(requested?: string): string {
  return requested ? resolve(requested) : shippedModelPath();
}

/**
 * Opens the requested classifier, or the shipped one with a hint on how to get it when it is absent.
 * @param delegate default XNNPACK.
 */
export async function openClassifier(requested?: string, delegate?: DelegateSpec): Promise<FaceClassifier> {
  const modelPath = resolveModelPath(requested);
  try {
    return await FaceClassifier.create({ modelPath, delegate });
  } catch (err) {
    if (!requested && isFaceedgeError(err, 'MODEL_NOT_FOUND')) {
      throw new FaceedgeError('MODEL_NOT_FOUND', `the shipped classifier ${modelPath} is missing`, {
        hint: 'export one with python3 -m faceedge_train.export --out models/, or pass --model <path/to/model.tflite>',
        cause: err,
      });
    }
    throw err;
  }
}
