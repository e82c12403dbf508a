/**
 * The manifest of a head on the face embedding (issue 24 §4; written by `faceedge_train.heads_export`): a
 * classifier manifest whose input is not an image but the running embedder's L2-normalised embedding of the
 * face, pinned to that embedder (its id and sha256, and its test-time flip: the head was trained on embeddings
 * made exactly so). A head shipped as a pair with an image model carries the pair's `combination`.
 */
import { z } from 'zod';
import { classifierManifestFields, loadChecked, manifestPathFor, type LoadedManifest } from './model-manifest.js';

/** What a head reads: the face embedding of one embedder, made one way. */
export const faceEmbeddingInputSchema = z
  .object({
    kind: z.literal('face-embedding'),
    /** The embedder whose embeddings the head was trained on. */
    embedder: z.object({ id: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).loose(),
    /** Length of the embedding (the embedder manifest's `embedding.dimensions`). */
    dimensions: z.number().int().positive(),
    /** The embedding is a unit vector, as `FaceEmbedder` returns it. */
    normalization: z.literal('l2'),
    /** Whether the embeddings were made with the embedder's test-time flip (crop and mirror averaged). */
    test_time_flip: z.boolean(),
  })
  .loose();

/** The pair's decision settings (src/classification/paired-decision.ts), fitted on validation faces. */
export const combinationSchema = z
  .object({
    rule: z.literal('mean-log-probabilities'),
    /**
     * The image model it was fitted with: the pair decides only beside that model file (its sha256, compared at
     * load and at every swap, `EmbeddingHead.pairingFor`); beside another, the image model decides alone.
     */
    with: z.object({ id: z.string().nullish(), sha256: z.string().nullish() }).loose().optional(),
    temperature: z.number().positive(),
    unsure_floor: z.number().gte(0).lt(1),
    /** What the pair scored on validation (n, accuracy, macro_recall, off_by_more_than_one); informative. */
    val: z.object({}).loose().optional(),
  })
  .loose();

export const embeddingHeadManifestSchema = classifierManifestFields
  .omit({ input: true, alignment: true, threshold: true, test_time_flip: true, selftest: true })
  .extend({
    input: faceEmbeddingInputSchema,
    combination: combinationSchema.optional(),
    /** Seeded random unit vectors (no one's biometric data) and the logits the exported head gives them. */
    selftest: z
      .array(z.object({ embedding: z.array(z.number()), expected_logits: z.array(z.number()) }).loose())
      .min(1),
  })
  .superRefine((m, ctx) => {
    for (const [i, c] of m.selftest.entries()) {
      if (c.embedding.length !== m.input.dimensions || c.expected_logits.length !== m.labels.length)
        ctx.addIssue({
          code: 'custom',
          path: ['selftest', i],
          message: `a golden input of ${c.embedding.length} values with ${c.expected_logits.length} logits, for ${m.input.dimensions} dimensions and ${m.labels.length} labels`,
        });
    }
  });

export type EmbeddingHeadManifest = z.infer<typeof embeddingHeadManifestSchema>;

/** Reads and validates a head's manifest (default `manifest.json` beside it) and checks the file's sha256. */
export function loadEmbeddingHeadManifestFor(
  modelPath: string,
  modelBytes: Buffer,
  manifestPath = manifestPathFor(modelPath),
): Promise<LoadedManifest<EmbeddingHeadManifest>> {
  return loadChecked(modelPath, modelBytes, manifestPath, embeddingHeadManifestSchema);
}
