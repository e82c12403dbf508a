/**
 * A head on the face embedding (issue 24 §4): a small float32 TFLite network ([1, D] embedding in, one logit
 * per label out) and its manifest (src/inference/embedding-head-manifest.ts). It reads the embedding the
 * recognizer already computed for a track, never an image, so it runs only where recognition runs, and only
 * beside the embedder it was trained on ({@link EmbeddingHead.checkEmbedder}). Checked on load: sha256, shapes,
 * and its golden self-test (seeded random unit vectors and the logits the exporter's runtime gave them).
 */
import { readFile } from 'node:fs/promises';
import { logSoftmax } from '../classification/classification.js';
import type { PairingRules } from '../classification/paired-decision.js';
import { FaceedgeError } from '../errors.js';
import type { DelegateSpec } from './delegate.js';
import { loadEmbeddingHeadManifestFor, type EmbeddingHeadManifest } from './embedding-head-manifest.js';
import { TfliteModel } from './tflite-model.js';

export interface EmbeddingHeadOptions {
  /** Path of the head's `.tflite`; its manifest is `manifest.json` beside it unless `manifestPath` says otherwise. */
  readonly modelPath: string;
  readonly manifestPath?: string;
  /** Interpreter threads. Default 1. */
  readonly threads?: number;
  /** Default XNNPACK. */
  readonly delegate?: DelegateSpec;
}

/** What a head must match of the embedder running on the board (`FaceEmbedder` has these). */
export interface RunningEmbedder {
  readonly id: string;
  /** sha256 of the embedder's model file. */
  readonly sha256: string;
  /** Whether it embeds each crop with its mirror image. */
  readonly flipAverage: boolean;
  readonly dimensions: number;
}

/** Largest difference between a golden logit and the runtime's (the exporter's runtime gave it: ~1e-5). */
export const SELFTEST_TOLERANCE = 1e-3;

export class EmbeddingHead {
  readonly manifest: EmbeddingHeadManifest;
  readonly modelPath: string;
  /** sha256 of the head file, verified against the manifest on load. */
  readonly sha256: string;
  /** Its logits are divided by it before the softmax (manifest `temperature`, default 1). */
  readonly temperature: number;
  #model: TfliteModel;

  private constructor(modelPath: string, sha256: string, manifest: EmbeddingHeadManifest, model: TfliteModel) {
    this.modelPath = modelPath;
    this.sha256 = sha256;
    this.manifest = manifest;
    this.temperature = manifest.temperature ?? 1;
    this.#model = model;
  }

  /** Loads and verifies a head (sha256, input [1, D] float32, one logit per label, golden self-test). */
  static async create(options: EmbeddingHeadOptions): Promise<EmbeddingHead> {
    let bytes: Buffer;
    try {
      bytes = await readFile(options.modelPath);
    } catch (cause) {
      throw new FaceedgeError('MODEL_NOT_FOUND', `cannot read head ${options.modelPath}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const { manifest, file } = await loadEmbeddingHeadManifestFor(options.modelPath, bytes, options.manifestPath);
    const model = TfliteModel.fromBuffer(bytes, options.modelPath, {
      threads: options.threads,
      delegate: options.delegate,
    });
    const head = new EmbeddingHead(options.modelPath, file.sha256, manifest, model);
    try {
      const problem = checkSignature(model, manifest);
      if (problem) {
        throw new FaceedgeError('MODEL_SHAPE_MISMATCH', `${options.modelPath}: ${problem}`, {
          hint: 'a head takes one [1, D] float32 embedding and returns one logit per label',
        });
      }
      await head.#selfTest();
    } catch (err) {
      await head.close();
      throw err;
    }
    return head;
  }

  get id(): string {
    return this.manifest.id;
  }

  get labels(): readonly string[] {
    return this.manifest.labels;
  }

  /** How the head and its image model decide together (manifest `combination`); null for a head shipped alone. */
  get pairing(): PairingRules | null {
    const c = this.manifest.combination;
    return c ? { temperature: c.temperature, unsureFloor: c.unsure_floor } : null;
  }

  /**
   * The pairing beside the image model file `imageModelSha256`: {@link pairing}, `imageOnly` unless that file is
   * the one the pair was fitted with (`combination.with.sha256`; a manifest without it cannot be checked, so it
   * counts as another). Another model's probabilities make the fitted temperature and floor meaningless.
   */
  pairingFor(imageModelSha256: string): PairingRules | null {
    const pairing = this.pairing;
    if (!pairing) return null;
    const fittedWith = this.manifest.combination?.with?.sha256;
    return fittedWith === imageModelSha256 ? pairing : { ...pairing, imageOnly: true };
  }

  /**
   * Throws `MODEL_INVALID` (a start error) unless `embedder` is the one the head was trained on: same model
   * file (sha256), same test-time flip, same size. Another embedder's embeddings mean nothing to the head.
   */
  checkEmbedder(embedder: RunningEmbedder): void {
    const want = this.manifest.input;
    const problems = [
      embedder.sha256 !== want.embedder.sha256 &&
        `embedder sha256 ${embedder.sha256.slice(0, 12)}… is not the head's ${want.embedder.sha256.slice(0, 12)}… (${want.embedder.id})`,
      embedder.flipAverage !== want.test_time_flip &&
        `embedder test-time flip is ${embedder.flipAverage ? 'on' : 'off'}, the head was trained with it ${want.test_time_flip ? 'on' : 'off'}`,
      embedder.dimensions !== want.dimensions &&
        `embeddings of ${embedder.dimensions} values, the head takes ${want.dimensions}`,
    ].filter((p): p is string => typeof p === 'string');
    if (problems.length === 0) return;
    throw new FaceedgeError(
      'MODEL_INVALID',
      `head ${this.modelPath} does not fit the running embedder ${embedder.id}: ${problems.join('; ')}`,
      {
        hint: 'retrain and export the head on embeddings of this embedder (faceedge_train.heads_export), or remove `head:` from the classifier entry',
      },
    );
  }

  /** The head's logits for one unit embedding, on the model's worker thread; safe to call concurrently. */
  async logits(embedding: Float32Array): Promise<number[]> {
    if (embedding.length !== this.manifest.input.dimensions)
      throw new FaceedgeError(
        'INFERENCE_FAILED',
        `an embedding of ${embedding.length} values for a head of ${this.manifest.input.dimensions}`,
      );
    // A fresh buffer per call: `TfliteModel.run` reads it only when the call's turn comes.
    const [out] = await this.#model.run([Float32Array.from(embedding)]);
    return Array.from(out as ArrayLike<number>);
  }

  /** Its log-probability of each label: log-softmax(logits / temperature). */
  async logProbabilities(embedding: Float32Array): Promise<number[]> {
    return logSoftmax((await this.logits(embedding)).map((z) => z / this.temperature));
  }

  async close(): Promise<void> {
    await this.#model.close();
  }

  /** Every golden input gives its logits within {@link SELFTEST_TOLERANCE}; else `MODEL_SELFTEST_FAILED`. */
  async #selfTest(): Promise<void> {
    for (const [i, golden] of this.manifest.selftest.entries()) {
      const got = await this.logits(Float32Array.from(golden.embedding));
      const diff = Math.max(...got.map((z, k) => Math.abs(z - golden.expected_logits[k])));
      if (!(diff <= SELFTEST_TOLERANCE))
        throw new FaceedgeError(
          'MODEL_SELFTEST_FAILED',
          `${this.modelPath}: golden input ${i} gives logits ${diff.toExponential(2)} away from its manifest's`,
          { hint: 'the head file and its manifest do not belong together, or this runtime computes it differently' },
        );
    }
  }
}

function checkSignature(model: TfliteModel, manifest: EmbeddingHeadManifest): string | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    return `expected 1 input and 1 output, found ${model.inputs.length} and ${model.outputs.length}`;
  const [input] = model.inputs;
  const d = manifest.input.dimensions;
  if (input.dtype !== 'float32' || input.shape.reduce((a, b) => a * b, 1) !== d)
    return `input is ${input.dtype} ${input.shape.join('x')}, expected float32 1x${d}`;
  const [output] = model.outputs;
  if (output.dtype !== 'float32' || output.shape.reduce((a, b) => a * b, 1) !== manifest.labels.length)
    return `output is ${output.dtype} ${output.shape.join('x')}, expected ${manifest.labels.length} float32 logits`;
  return null;
}
