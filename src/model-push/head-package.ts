/**
 * A head on the face embedding travelling with its image model (issue 24 §3–4): a pair package is a model
 * package whose folder also holds `head/` — the head's own package (`manifest.json` in the embedding-head schema,
 * its signature `manifest.sig`, and the float32 `.tflite` it lists), exactly the layout `faceedge train
 * --on-embedding --pair-with` and `models/age/` use. The pair is installed as one version of the model's store
 * (`versions/<id>-<hash>/head/`), so `current` switches both at once and a rollback takes both back: a board
 * never serves half of a pair it was sent.
 *
 * The checks a head passes before it is installed (each refusal typed, naming what to push instead):
 * - the board has a head slot for that model (`classifiers[].head` in its config);
 * - its files match its manifest (sha256, size) and its manifest is signed by a trusted key (same policy as the
 *   image model's);
 * - its labels are the image model's, in the same order;
 * - it is pinned to the embedder the board runs (sha256, test-time flip, size), where the board runs one;
 * - its pairing (`combination.with.sha256`) names the image model file of the same version;
 * - it loads and reproduces its golden logits (EmbeddingHead's self-test), and gives one finite logit per label
 *   on a fixed unit embedding.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { assertSameLabels } from '../classification/paired-decision.js';
import { FaceedgeError } from '../errors.js';
import { EmbeddingHead, type RunningEmbedder } from '../inference/embedding-head.js';
import { embeddingHeadManifestSchema, type EmbeddingHeadManifest } from '../inference/embedding-head-manifest.js';
import { MANIFEST_FILE, SIGNATURE_FILE, isPlainFileName, sha256Hex, type PackageFile } from './model-package.js';
import { verifyManifestSignature } from './model-signature.js';

/** The head's folder inside a pair package (and inside a store version). */
export const HEAD_FOLDER = 'head';

/** What the board knows about a model's head slot, for the checks at install. */
export interface HeadRules {
  /** The board's config gives this model a head (`classifiers[].head`); a head sent to a model without one is refused. */
  readonly slot: boolean;
  /** The embedder the board runs (null: it runs none, so no head runs and the pin cannot be checked). */
  readonly embedder?: () => Promise<RunningEmbedder | null>;
}

export interface HeadPackage {
  readonly dir: string;
  readonly manifestBytes: Buffer;
  readonly manifest: EmbeddingHeadManifest;
  /** The head's `.tflite` (the manifest's only file). */
  readonly file: PackageFile;
}

/** Paths of a store version's head: its `.tflite` and manifest. */
export interface InstalledHead {
  readonly modelPath: string;
  readonly manifestPath: string;
}

/** Whether the package (or store version) folder `dir` carries a head. */
export function hasHead(dir: string): boolean {
  return existsSync(join(dir, HEAD_FOLDER, MANIFEST_FILE));
}

/** Whether `dir` holds a head package (its manifest reads a face embedding), not an image model's. */
export async function isHeadPackage(dir: string): Promise<boolean> {
  const text = await readFile(join(dir, MANIFEST_FILE), 'utf8').catch(() => null);
  if (text === null) return false;
  try {
    return (JSON.parse(text) as { input?: { kind?: unknown } }).input?.kind === 'face-embedding';
  } catch {
    return false;
  }
}

/**
 * The head package a push of `packageDir` carries: `head` when given (`--head`), else the `head/` folder inside
 * the package, else none (null).
 */
export function pushedHeadDir(packageDir: string, head?: string): string | null {
  if (head !== undefined) return head;
  return hasHead(packageDir) ? join(packageDir, HEAD_FOLDER) : null;
}

/** The sha256 of a head package's manifest (which covers its file): the head's identity in a rollout's state. */
export async function headManifestSha256(dir: string): Promise<string> {
  return sha256Hex((await readHeadPackage(dir)).manifestBytes);
}

/** Reads `dir/manifest.json` as a head manifest (does not touch the `.tflite`); typed MODEL_INVALID on a problem. */
export async function readHeadPackage(dir: string): Promise<HeadPackage> {
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(join(dir, MANIFEST_FILE));
  } catch (cause) {
    throw new FaceedgeError('MODEL_NOT_FOUND', `${dir}: cannot read the head's ${MANIFEST_FILE}`, { cause });
  }
  let parsed: ReturnType<typeof embeddingHeadManifestSchema.safeParse>;
  try {
    parsed = embeddingHeadManifestSchema.safeParse(JSON.parse(manifestBytes.toString('utf8')));
  } catch (cause) {
    throw new FaceedgeError('MODEL_INVALID', `${dir}: the head's manifest is not JSON`, { cause });
  }
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new FaceedgeError('MODEL_INVALID', `${dir}: not a head manifest: ${problems}`, {
      hint: 'a head package is what `faceedge train --on-embedding` writes: manifest.json (input.kind face-embedding) beside its .tflite',
    });
  }
  const entries = Object.entries(parsed.data.files);
  if (entries.length !== 1 || !isPlainFileName(entries[0][1].path))
    throw new FaceedgeError('MODEL_INVALID', `${dir}: a head manifest lists exactly one plain .tflite file`);
  const [kind, f] = entries[0];
  const file = { kind, name: f.path, dtype: f.dtype, sha256: f.sha256, bytes: f.bytes };
  return { dir, manifestBytes, manifest: parsed.data, file };
}

/** The head of a store version, or null when it has none. */
export async function installedHead(versionDir: string): Promise<InstalledHead | null> {
  if (!hasHead(versionDir)) return null;
  const dir = join(versionDir, HEAD_FOLDER);
  const head = await readHeadPackage(dir);
  return { modelPath: join(dir, head.file.name), manifestPath: join(dir, MANIFEST_FILE) };
}

export interface HeadCheckOptions {
  /** The image model of the same package: its labels and the sha256 of the file the board serves. */
  readonly image: { readonly labels: readonly string[]; readonly sha256: string; readonly id: string };
  readonly trustedKeys: readonly KeyObject[];
  /** Refuse an unsigned head. Default true. */
  readonly requireSignature?: boolean;
  /** Skip the signature (rollback: checked at install). */
  readonly skipSignature?: boolean;
  /** The board's slot and embedder; absent (a shell's `faceedge model install`): the daemon checks them at reload. */
  readonly rules?: HeadRules;
}

/** The checks of the file's comment, in order; returns the key id that signed the head (null: unsigned, allowed). */
export async function verifyHeadPackage(pairDir: string, o: HeadCheckOptions): Promise<string | null> {
  const dir = join(pairDir, HEAD_FOLDER);
  if (o.rules && !o.rules.slot)
    throw new FaceedgeError('MODEL_INVALID', `the package carries a head, and this model has no head slot`, {
      hint: 'add `head:` to the classifier entry in the board config (then restart), or push the image model without --head',
    });
  const head = await readHeadPackage(dir);
  const path = join(dir, head.file.name);
  const bytes = await readFile(path).catch((cause: Error) => {
    throw new FaceedgeError('MODEL_NOT_FOUND', `${path}: listed in the head's manifest but missing`, { cause });
  });
  if (bytes.length !== head.file.bytes || sha256Hex(bytes) !== head.file.sha256)
    throw new FaceedgeError('MODEL_CHECKSUM_MISMATCH', `${path}: does not match the head's manifest (size or sha256)`);
  let signedBy: string | null = null;
  const signature = await readFile(join(dir, SIGNATURE_FILE)).catch(() => null);
  if (!o.skipSignature && (signature !== null || (o.requireSignature ?? true)))
    signedBy = verifyManifestSignature(head.manifestBytes, signature, o.trustedKeys);
  assertSameLabels(o.image.labels, head.manifest.labels, `head ${head.manifest.id}`);
  const pairedWith = head.manifest.combination?.with?.sha256;
  if (pairedWith !== o.image.sha256)
    throw new FaceedgeError(
      'MODEL_INVALID',
      `head ${head.manifest.id} is paired with image model ${pairedWith?.slice(0, 12) ?? '(none)'}…, not ${o.image.id} ${o.image.sha256.slice(0, 12)}…`,
      {
        hint: 'push the image model the head was paired with first, or both together: faceedge model push <image pkg> --head <head pkg>',
      },
    );
  const loaded = await EmbeddingHead.create({ modelPath: path, manifestPath: join(dir, MANIFEST_FILE), threads: 1 });
  try {
    const embedder = await o.rules?.embedder?.();
    if (embedder) loaded.checkEmbedder(embedder);
    await checkFiniteLogits(loaded);
  } finally {
    await loaded.close();
  }
  return signedBy;
}

/** One finite logit per label on a fixed unit embedding (the golden self-test ran in EmbeddingHead.create). */
async function checkFiniteLogits(head: EmbeddingHead): Promise<void> {
  const d = head.manifest.input.dimensions;
  const logits = await head.logits(new Float32Array(d).fill(1 / Math.sqrt(d)));
  if (logits.length !== head.labels.length || !logits.every(Number.isFinite))
    throw new FaceedgeError(
      'MODEL_SELFTEST_FAILED',
      `head ${head.id}: ${logits.length} logits (${logits.every(Number.isFinite) ? 'finite' : 'not all finite'}) for ${head.labels.length} labels on a fixed embedding`,
    );
}
