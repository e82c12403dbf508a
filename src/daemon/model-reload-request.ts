/**
 * `bridge/request/model/reload`: what may be reloaded and the checks it passes first. Anyone who can
 * publish on the bridge topic can name a file, so a named model gets exactly the checks of
 * `faceedge model install` and of an MQTT push (sha256 of every file of its package, the ed25519
 * signature when `models.require_signature` is on, or whenever the package is signed, and the golden
 * self-test) before it may replace the serving model.
 *
 * Payload (JSON object; every key optional):
 * - `model`: path of a `.tflite` on the board, inside its package folder (beside its `manifest.json`,
 *   which lists it). Absent: the serving model's file is loaded again from disk.
 * - `manifest`: that package's `manifest.json`, when named explicitly; it must be in the model's folder.
 * - `name`: which model (`classifiers[].name`), when the board has several; absent: the first.
 * - `transaction`: echoed in the response (handled by the bridge dispatcher).
 */
import { basename, dirname, join, resolve } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { MANIFEST_FILE } from '../model-push/model-package.js';
import { verifyModelPackage, type VerifiedPackage, type VerifyOptions } from '../model-push/install-model.js';

/** A parsed reload request. */
export interface ModelReloadTarget {
  /** Absolute path of the model to serve; undefined = the serving model's file again. */
  readonly modelPath?: string;
  /** Absolute path of its manifest (`<model's folder>/manifest.json` when the request names none). */
  readonly manifestPath?: string;
  /** Which model (`classifiers[].name`); undefined = the first. */
  readonly name?: string;
}

const KEYS = new Set(['model', 'manifest', 'name']);

/** Checks the request's shape; REQUEST_INVALID names the offending key. */
export function parseModelReloadRequest(params: unknown): ModelReloadTarget {
  const body = (params ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body))
    throw new FaceedgeError('REQUEST_INVALID', 'model/reload takes a JSON object: {"model": "<path>.tflite"} or {}');
  for (const key of Object.keys(body)) {
    if (!KEYS.has(key))
      throw new FaceedgeError(
        'REQUEST_INVALID',
        `model/reload: unknown key "${key}" (known: model, manifest, name, transaction)`,
      );
  }
  for (const key of KEYS) {
    if (body[key] !== undefined && (typeof body[key] !== 'string' || body[key] === '')) {
      throw new FaceedgeError(
        'REQUEST_INVALID',
        `model/reload: "${key}" must be ${key === 'name' ? "a model's name" : 'a path'} (a non-empty string)`,
      );
    }
  }
  if (body.model === undefined) {
    if (body.manifest !== undefined)
      throw new FaceedgeError('REQUEST_INVALID', 'model/reload: "manifest" needs "model"');
    return body.name === undefined ? {} : { name: body.name as string };
  }
  const modelPath = resolve(body.model as string);
  const manifestPath = resolve((body.manifest as string | undefined) ?? join(dirname(modelPath), MANIFEST_FILE));
  if (dirname(manifestPath) !== dirname(modelPath)) {
    throw new FaceedgeError(
      'REQUEST_INVALID',
      `model/reload: ${manifestPath} is not in the model's folder ${dirname(modelPath)}`,
      {
        hint: 'reload a model package folder as `faceedge model install` takes it: the .tflite beside the manifest.json that lists it',
      },
    );
  }
  return { modelPath, manifestPath, ...(body.name !== undefined && { name: body.name as string }) };
}

/**
 * Verifies the package of a named model as an install does, and that its manifest lists the model.
 * Resolves at once for a request naming no model. Throws the install path's typed errors
 * (MODEL_SIGNATURE_INVALID, MODEL_CHECKSUM_MISMATCH, MODEL_SELFTEST_FAILED, MODEL_INVALID…).
 */
export async function verifyReloadTarget(
  target: ModelReloadTarget,
  options: VerifyOptions,
): Promise<VerifiedPackage | null> {
  if (!target.modelPath) return null;
  const dir = dirname(target.modelPath);
  const manifestName = basename(target.manifestPath ?? MANIFEST_FILE);
  if (manifestName !== MANIFEST_FILE) {
    throw new FaceedgeError(
      'REQUEST_INVALID',
      `model/reload: the manifest must be the package's ${MANIFEST_FILE}, not ${manifestName}`,
    );
  }
  const verified = await verifyModelPackage(dir, options);
  const name = basename(target.modelPath);
  if (!verified.pkg.files.some((f) => f.name === name)) {
    throw new FaceedgeError(
      'MODEL_INVALID',
      `model/reload: ${name} is not listed in ${join(dir, MANIFEST_FILE)} (it lists ${verified.pkg.files.map((f) => f.name).join(', ')})`,
    );
  }
  return verified;
}
