/**
 * A model package: a folder holding `manifest.json`, its detached signature `manifest.sig` and the
 * model files the manifest lists (`files.<kind>.path`, with sha256 and size). The signature covers
 * the manifest's exact bytes, and the manifest covers every file through its sha256 — so one
 * signature check plus one hash per file proves the whole package.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { modelManifestSchema, type ModelManifest } from '../inference/model-manifest.js';

export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';

/** One file of the package as the manifest describes it. */
export interface PackageFile {
  /** Manifest key, e.g. `int8`, `float32`. */
  readonly kind: string;
  /** Plain file name inside the package folder. */
  readonly name: string;
  readonly dtype: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface ModelPackage {
  readonly dir: string;
  /** The manifest's bytes exactly as signed. */
  readonly manifestBytes: Buffer;
  readonly manifest: ModelManifest;
  readonly files: readonly PackageFile[];
}

/**
 * Names that stay inside the package folder: a manifest (or an MQTT peer) must not be able to point
 * at `../../etc/…` or at the package's own metadata.
 */
export function isPlainFileName(name: string): boolean {
  return (
    /^[A-Za-z0-9._-]{1,200}$/.test(name) &&
    name !== '.' &&
    name !== '..' &&
    name !== MANIFEST_FILE &&
    name !== SIGNATURE_FILE
  );
}

export function sha256Hex(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Parses manifest bytes and lists its files; typed MODEL_INVALID on any problem. */
export function parsePackageManifest(
  manifestBytes: Buffer,
  where: string,
): { manifest: ModelManifest; files: PackageFile[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(manifestBytes.toString('utf8'));
  } catch (cause) {
    throw new FaceedgeError('MODEL_INVALID', `${where}: manifest.json is not JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new FaceedgeError('MODEL_INVALID', `${where}: invalid manifest: ${problems}`);
  }
  const files = Object.entries(parsed.data.files).map(([kind, f]) => ({
    kind,
    name: f.path,
    dtype: f.dtype,
    sha256: f.sha256,
    bytes: f.bytes,
  }));
  if (files.length === 0) throw new FaceedgeError('MODEL_INVALID', `${where}: the manifest lists no model files`);
  for (const f of files) {
    if (!isPlainFileName(f.name)) {
      throw new FaceedgeError(
        'MODEL_INVALID',
        `${where}: manifest file ${JSON.stringify(f.name)} is not a plain file name in the package folder`,
      );
    }
  }
  if (new Set(files.map((f) => f.name)).size !== files.length)
    throw new FaceedgeError('MODEL_INVALID', `${where}: the manifest lists a file twice`);
  return { manifest: parsed.data, files };
}

/** Reads `dir/manifest.json` (does not touch the model files). */
export async function readModelPackage(dir: string): Promise<ModelPackage> {
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(join(dir, MANIFEST_FILE));
  } catch (cause) {
    throw new FaceedgeError('MODEL_NOT_FOUND', `${dir}: cannot read ${MANIFEST_FILE}: ${(cause as Error).message}`, {
      hint: 'a model package is the folder faceedge_train.export wrote: manifest.json next to the .tflite files',
      cause,
    });
  }
  return { dir, manifestBytes, ...parsePackageManifest(manifestBytes, dir) };
}

/** Checks every listed file's size and sha256 against the manifest; the first mismatch throws. */
export async function verifyPackageFiles(pkg: ModelPackage): Promise<void> {
  for (const f of pkg.files) {
    const path = join(pkg.dir, f.name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (cause) {
      throw new FaceedgeError('MODEL_NOT_FOUND', `${path}: listed in the manifest but missing`, { cause });
    }
    if (size !== f.bytes) {
      throw new FaceedgeError('MODEL_CHECKSUM_MISMATCH', `${path}: ${size} bytes, the manifest says ${f.bytes}`, {
        hint: 'the file is truncated or was replaced',
      });
    }
    const actual = sha256Hex(await readFile(path));
    if (actual !== f.sha256) {
      throw new FaceedgeError(
        'MODEL_CHECKSUM_MISMATCH',
        `${path}: sha256 ${actual} does not match the manifest's ${f.sha256}`,
        {
          hint: 'the file is corrupt or was replaced without its manifest',
        },
      );
    }
  }
}

/** The file the daemon serves: int8 when present (the shipped, quantized model), else the first listed. */
export function servingFile(pkg: Pick<ModelPackage, 'files'>): PackageFile {
  return pkg.files.find((f) => f.kind === 'int8') ?? pkg.files[0];
}
