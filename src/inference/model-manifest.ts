/**
 * `manifest.json`, the description that travels with every classifier (written by
 * `faceedge_train.export`). Checked against the model file on load: sha256 and input geometry.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { FaceedgeError } from '../errors.js';
import { UNSURE_LABEL } from '../classification/classification.js';

const fileEntry = z
  .object({
    path: z.string(),
    dtype: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().positive(),
  })
  .loose();

/** The most labels a classifier may have (the trainer refuses more). */
export const MAX_LABELS = 50;

export const classifierManifestFields = z
  .object({
    id: z.string().min(1),
    /**
     * The classes, in the order of the model's outputs: 2 to 50. Two labels: one output, the probability
     * of `labels[1]`. Three or more: one logit per label. Never `unknown` (what an unsure face is called).
     */
    labels: z
      .array(z.string().min(1))
      .min(2)
      .max(MAX_LABELS)
      .refine((labels) => new Set(labels).size === labels.length, 'labels must be distinct')
      .refine((labels) => !labels.includes(UNSURE_LABEL), `no label may be named "${UNSURE_LABEL}"`),
    /** `classification` (N-class export) or `binary-classification` (two labels); informative. */
    task: z.string().optional(),
    /** The labels are a scale (age bands): `eval` then counts predictions off by more than one step. */
    ordered: z.boolean().optional(),
    /** What the model outputs: `{kind: "logits", activation: "softmax", shape: [1, N]}` for N ≥ 3 labels. */
    output: z
      .object({ kind: z.string(), activation: z.string().optional(), shape: z.array(z.number().int()).optional() })
      .loose()
      .optional(),
    /** Three or more labels: logits are divided by it before the softmax (fitted on validation). Default 1. */
    temperature: z.number().positive().optional(),
    /** Three or more labels: a face whose largest probability is below it is `unknown`. Default 0. */
    unsure_floor: z.number().gte(0).lt(1).optional(),
    /** How `temperature` and `unsure_floor` were fitted (validation NLL, ECE, share answered); informative. */
    confidence_calibration: z.object({}).loose().optional(),
    input: z
      .object({
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        channels: z.literal(3),
        /** `(pixel − mean) / std` (absent: the contract's 128 / 128, src/inference/preprocess.ts). */
        normalization: z.object({ mean: z.number(), std: z.number().positive() }).optional(),
      })
      .loose(),
    files: z.record(z.string(), fileEntry),
    /** Crop geometry the model was trained on (from the crops manifest); see `recordedAlignment` for absent fields. */
    alignment: z
      .object({
        size: z.number().int().positive(),
        sideInEyeDistances: z.number().positive(),
        centreBelowEyes: z.number(),
        padding: z.enum(['edge', 'mirror']).optional(),
      })
      .nullish(),
    /**
     * Decision threshold on the probability of `labels[1]`, chosen on validation data (`faceedge model
     * calibrate`). Default 0.5.
     */
    threshold: z.number().gt(0).lt(1).optional(),
    /** Classify each face together with its mirror image by default (logits averaged). Default false. */
    test_time_flip: z.boolean().optional(),
    /**
     * Golden crops: the float model's probability of `labels[1]` (two labels) or of its label, and for
     * three or more labels every label's probability and the int8 model's dequantized logits.
     */
    selftest: z
      .array(
        z
          .object({
            png_base64: z.string(),
            expected_probability: z.number(),
            expected_probabilities: z.array(z.number()).optional(),
            expected_logits: z.array(z.number()).optional(),
            expected_int8_logits: z.array(z.number()).optional(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();

export const modelManifestSchema = classifierManifestFields.superRefine((m, ctx) => {
  const n = m.labels.length;
  if (n > 2 && m.threshold !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['threshold'],
      message: `a threshold applies to two labels only; ${n} labels are decided by the largest probability and unsure_floor`,
    });
  }
  const shape = m.output?.shape;
  const outputs = shape?.reduce((a, b) => a * b, 1);
  if (outputs !== undefined && outputs !== 1 && outputs !== n) {
    ctx.addIssue({ code: 'custom', path: ['output', 'shape'], message: `${outputs} outputs for ${n} labels` });
  }
  for (const [i, c] of (m.selftest ?? []).entries()) {
    if (c.expected_probabilities && c.expected_probabilities.length !== n) {
      ctx.addIssue({
        code: 'custom',
        path: ['selftest', i, 'expected_probabilities'],
        message: `${c.expected_probabilities.length} probabilities for ${n} labels`,
      });
    }
  }
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;

/**
 * The manifest of a face-embedding model (`task: "face-embedding"`): no labels; the embedding's size,
 * the crop geometry it was trained on (required: a wrong crop silently ruins recognition), and the
 * recognition threshold with the false-accept rate it was chosen for on validation pairs.
 */
export const embeddingManifestSchema = classifierManifestFields
  .omit({
    labels: true,
    threshold: true,
    ordered: true,
    temperature: true,
    unsure_floor: true,
    confidence_calibration: true,
  })
  .extend({
    task: z.literal('face-embedding'),
    embedding: z
      .object({
        /** Length of the embedding vector. */
        dimensions: z.number().int().positive(),
        /** How two embeddings are compared; the embedder L2-normalizes, so cosine = dot product. */
        similarity: z.literal('cosine'),
      })
      .loose(),
    alignment: z.object({
      size: z.number().int().positive(),
      sideInEyeDistances: z.number().positive(),
      centreBelowEyes: z.number(),
      padding: z.enum(['edge', 'mirror']),
    }),
    recognition: z
      .object({
        /** Cosine similarity at or above which two faces are taken for the same person. */
        threshold: z.number().gte(-1).lte(1),
        /** False-accept rate of `threshold` on the validation pairs it was chosen on (e.g. 0.001). */
        far: z.number().gt(0).lt(1),
        /** Where it was chosen: the pairs file and how many impostor pairs it holds. */
        chosen_on: z.string().nullish(),
      })
      .loose(),
    /** Golden crops with the float embedding they must give (the int8 file within `min_cosine` of it). */
    selftest: z
      .array(
        z
          .object({
            png_base64: z.string(),
            expected_embedding: z.array(z.number()),
            min_cosine: z.number().optional(),
          })
          .loose(),
      )
      .optional(),
  });

export type EmbeddingManifest = z.infer<typeof embeddingManifestSchema>;

export interface LoadedManifest<M = ModelManifest> {
  readonly manifest: M;
  readonly path: string;
  /** The entry of `files` that describes the model file being loaded. */
  readonly file: z.infer<typeof fileEntry>;
}

/** Default manifest location: `manifest.json` next to the model. */
export function manifestPathFor(modelPath: string): string {
  return join(dirname(modelPath), 'manifest.json');
}

/** Reads and validates a classifier's manifest and checks `modelBytes` against its sha256. */
export function loadManifestFor(
  modelPath: string,
  modelBytes: Buffer,
  manifestPath = manifestPathFor(modelPath),
): Promise<LoadedManifest> {
  return loadChecked(modelPath, modelBytes, manifestPath, modelManifestSchema);
}

/** The same for a face-embedding model's manifest (`embeddingManifestSchema`). */
export function loadEmbeddingManifestFor(
  modelPath: string,
  modelBytes: Buffer,
  manifestPath = manifestPathFor(modelPath),
): Promise<LoadedManifest<EmbeddingManifest>> {
  return loadChecked(modelPath, modelBytes, manifestPath, embeddingManifestSchema);
}

export async function loadChecked<M extends { files: Record<string, z.infer<typeof fileEntry>> }>(
  modelPath: string,
  modelBytes: Buffer,
  manifestPath: string,
  schema: z.ZodType<M>,
): Promise<LoadedManifest<M>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (cause) {
    throw new FaceedgeError(
      'MODEL_INVALID',
      `cannot read model manifest ${manifestPath}: ${(cause as Error).message}`,
      {
        hint: 'every model travels with the manifest.json written by faceedge_train.export',
        cause,
      },
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new FaceedgeError('MODEL_INVALID', `invalid manifest ${manifestPath}: ${problems}`);
  }
  const manifest = parsed.data;
  const file = Object.values(manifest.files).find((f) => basename(f.path) === basename(modelPath));
  if (!file) throw new FaceedgeError('MODEL_INVALID', `manifest ${manifestPath} does not list ${basename(modelPath)}`);
  const sha256 = createHash('sha256').update(modelBytes).digest('hex');
  if (sha256 !== file.sha256) {
    throw new FaceedgeError(
      'MODEL_CHECKSUM_MISMATCH',
      `${modelPath}: sha256 ${sha256} does not match the manifest's ${file.sha256}`,
      {
        hint: 'the model file is corrupt or was replaced without its manifest',
      },
    );
  }
  return { manifest, path: manifestPath, file };
}
