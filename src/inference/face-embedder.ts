/**
 * The face embedder: a TFLite face-recognition network + its manifest (`task: "face-embedding"`). It
 * crops a detected face with the geometry the network was trained on (the manifest's `alignment`),
 * runs the network and returns an L2-normalized embedding, so that the cosine similarity of two
 * faces is the dot product of their embeddings. Shaped like `FaceClassifier`: async factory, options
 * with defaults, a fresh result per call, `close()`.
 */
import { readFile } from 'node:fs/promises';
import type { RgbImage } from '../capture/frame.js';
import { FaceedgeError } from '../errors.js';
import { alignFace, type CropAlignment } from '../vision/align-face.js';
import type { DetectedFace } from '../vision/face.js';
import type { DelegateSpec } from './delegate.js';
import { loadEmbeddingManifestFor, type EmbeddingManifest } from './model-manifest.js';
import { mirrorCrop } from './face-classifier.js';
import { fillClassifierInput, NORMALIZATION } from './preprocess.js';
import type { TensorInfo } from './tensor-info.js';
import { TfliteModel, type DelegateStatus } from './tflite-model.js';

export interface FaceEmbedderOptions {
  /** Path of the `.tflite` file; its manifest is `manifest.json` next to it unless `manifestPath` says otherwise. */
  readonly modelPath: string;
  readonly manifestPath?: string;
  /** Interpreter threads. Default 1. */
  readonly threads?: number;
  /** Default XNNPACK. */
  readonly delegate?: DelegateSpec;
  /**
   * Embed each crop together with its mirror image and average the two unit embeddings (twice the
   * network cost). Default: the manifest's `test_time_flip` (false when absent): the threshold in the
   * manifest was chosen with that setting, so override it only to measure.
   */
  readonly flipAverage?: boolean;
}

/** Cosine similarity of two L2-normalized embeddings (their dot product), in [−1, 1]. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) {
    throw new FaceedgeError('INFERENCE_FAILED', `embeddings of different sizes (${a.length} and ${b.length})`);
  }
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return Math.max(-1, Math.min(1, dot));
}

/** `values` scaled to unit length (a zero vector stays zero: it matches nothing). */
export function l2Normalize(values: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  const norm = Math.sqrt(sum);
  const out = new Float32Array(values.length);
  if (norm > 0) for (let i = 0; i < values.length; i++) out[i] = values[i] / norm;
  return out;
}

export class FaceEmbedder {
  readonly manifest: EmbeddingManifest;
  readonly modelPath: string;
  /** sha256 of the model file, verified against the manifest on load. */
  readonly sha256: string;
  /** Crop side the network takes, pixels. */
  readonly inputSize: number;
  /** How faces are cropped for this network: the geometry of its training crops. */
  readonly alignment: CropAlignment;
  /** Length of an embedding. */
  readonly dimensions: number;
  /** Cosine similarity at or above which two faces are taken for the same person (manifest `recognition.threshold`). */
  readonly threshold: number;
  /** The false-accept rate `threshold` was chosen for on the validation pairs. */
  readonly far: number;
  /** Whether each crop is embedded together with its mirror image (unit embeddings averaged). */
  readonly flipAverage: boolean;
  #model: TfliteModel;
  #input: TensorInfo;
  #output: TensorInfo;

  private constructor(
    modelPath: string,
    sha256: string,
    manifest: EmbeddingManifest,
    model: TfliteModel,
    flipAverage: boolean,
  ) {
    this.modelPath = modelPath;
    this.flipAverage = flipAverage;
    this.sha256 = sha256;
    this.manifest = manifest;
    this.#model = model;
    [this.#input] = model.inputs;
    [this.#output] = model.outputs;
    this.inputSize = this.#input.shape[1];
    this.alignment = { ...manifest.alignment, size: this.inputSize };
    this.dimensions = manifest.embedding.dimensions;
    this.threshold = manifest.recognition.threshold;
    this.far = manifest.recognition.far;
  }

  /** Loads and verifies (sha256, input [1,S,S,3], one output of `embedding.dimensions` values). */
  static async create(options: FaceEmbedderOptions): Promise<FaceEmbedder> {
    let bytes: Buffer;
    try {
      bytes = await readFile(options.modelPath);
    } catch (cause) {
      throw new FaceedgeError(
        'MODEL_NOT_FOUND',
        `cannot read embedder ${options.modelPath}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    const { manifest, file } = await loadEmbeddingManifestFor(options.modelPath, bytes, options.manifestPath);
    const model = TfliteModel.fromBuffer(bytes, options.modelPath, {
      threads: options.threads,
      delegate: options.delegate,
    });
    const problem = checkSignature(model, manifest);
    if (problem) {
      await model.close();
      throw new FaceedgeError('MODEL_SHAPE_MISMATCH', `${options.modelPath}: ${problem}`, {
        hint: 'a face embedder takes one NHWC RGB crop and returns one embedding vector',
      });
    }
    return new FaceEmbedder(
      options.modelPath,
      file.sha256,
      manifest,
      model,
      options.flipAverage ?? manifest.test_time_flip ?? false,
    );
  }

  get id(): string {
    return this.manifest.id;
  }

  get delegate(): DelegateStatus {
    return this.#model.delegate;
  }

  /** The crop this embedder takes of `face` in `image` (inputSize² × 3 RGB bytes). */
  crop(image: RgbImage, face: DetectedFace): Buffer {
    return alignFace(image, face, this.alignment);
  }

  /** Embedding of `face` in `image`, L2-normalized; on a worker thread, safe to call concurrently. */
  embed(image: RgbImage, face: DetectedFace): Promise<Float32Array> {
    return this.embedCrop(this.crop(image, face));
  }

  /** Embedding of an already aligned crop (inputSize² × 3 RGB bytes). */
  async embedCrop(crop: Uint8Array): Promise<Float32Array> {
    const outs = await Promise.all(this.#crops(crop).map((c) => this.#model.run([this.#inputFor(c)])));
    return this.#combine(outs.map(([out]) => out as ArrayLike<number>));
  }

  /** Same on the calling thread (batch tools, not the daemon's event loop). */
  embedCropSync(crop: Uint8Array): Float32Array {
    return this.#combine(
      this.#crops(crop).map((c) => this.#model.runSync([this.#inputFor(c)])[0] as ArrayLike<number>),
    );
  }

  async close(): Promise<void> {
    await this.#model.close();
  }

  /** A fresh input buffer per call: `TfliteModel.run` reads it only when the call's turn comes. */
  #inputFor(crop: Uint8Array): Float32Array | Int8Array | Uint8Array {
    const n = this.#input.byteSize / (this.#input.dtype === 'float32' ? 4 : 1);
    const buffer =
      this.#input.dtype === 'float32'
        ? new Float32Array(n)
        : this.#input.dtype === 'int8'
          ? new Int8Array(n)
          : new Uint8Array(n);
    fillClassifierInput(crop, this.#input, buffer, this.manifest.input.normalization ?? NORMALIZATION);
    return buffer;
  }

  #crops(crop: Uint8Array): Uint8Array[] {
    return this.flipAverage ? [crop, mirrorCrop(crop, this.inputSize)] : [crop];
  }

  /** The unit embedding of one output, or the renormalized mean of the crop's and its mirror's unit embeddings. */
  #combine(outputs: readonly ArrayLike<number>[]): Float32Array {
    const units = outputs.map((out) => this.#read(out));
    if (units.length === 1) return units[0];
    const sum = new Float32Array(units[0].length);
    for (const u of units) for (let i = 0; i < u.length; i++) sum[i] += u[i];
    return l2Normalize(sum);
  }

  #read(out: ArrayLike<number>): Float32Array {
    const q = this.#output.quantization;
    const values = q ? Array.from(out, (v) => q.scale * (v - q.zeroPoint)) : out;
    return l2Normalize(values);
  }
}

function checkSignature(model: TfliteModel, manifest: EmbeddingManifest): string | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    return `expected 1 input and 1 output, found ${model.inputs.length} and ${model.outputs.length}`;
  }
  const [input] = model.inputs;
  const want = [1, manifest.input.height, manifest.input.width, 3];
  if (input.shape.length !== 4 || input.shape.some((d, i) => d !== want[i])) {
    return `input is ${input.shape.join('x')}, expected ${want.join('x')}`;
  }
  if (manifest.alignment.size !== input.shape[1]) {
    return `alignment.size ${manifest.alignment.size} is not the input side ${input.shape[1]}`;
  }
  if (!['float32', 'int8', 'uint8'].includes(input.dtype))
    return `input dtype ${input.dtype} is not float32/int8/uint8`;
  const [output] = model.outputs;
  const size = output.shape.reduce((a, b) => a * b, 1);
  if (size !== manifest.embedding.dimensions) {
    return `output has ${size} values, the manifest says ${manifest.embedding.dimensions} dimensions`;
  }
  return null;
}
