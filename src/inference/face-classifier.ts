/**
 * The 64×64 face classifier: a TFLite model (int8 or float) + its manifest, with the project's
 * preprocessing contract. One sigmoid output: the probability of `labels[1]`.
 */
import { readFile } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import { recordedAlignment, type CropAlignment } from '../vision/align-face.js';
import type { DelegateSpec } from './delegate.js';
import { loadManifestFor, type ModelManifest } from './model-manifest.js';
import { fillClassifierInput, NORMALIZATION, readScalarOutput } from './preprocess.js';
import type { TensorInfo } from './tensor-info.js';
import { TfliteModel, type DelegateStatus } from './tflite-model.js';

export interface FaceClassifierOptions {
  /** Path of the `.tflite` file; its `manifest.json` sits next to it unless `manifestPath` says otherwise. */
  readonly modelPath: string;
  readonly manifestPath?: string;
  /** Interpreter threads. Default 1. */
  readonly threads?: number;
  /** Default XNNPACK. */
  readonly delegate?: DelegateSpec;
  /**
   * Classify each crop and its mirror image and average their logits (twice the classifier cost).
   * Default: the manifest's `test_time_flip` (false when absent).
   */
  readonly flipAverage?: boolean;
}

export interface Classification {
  /** Decided label: `labels[1]` when `probability` ≥ the model's threshold, else `labels[0]`. */
  readonly label: string;
  /**
   * Confidence of the decided label in [0.5, 1], on the model's calibrated scale: sigmoid(|logit|),
   * so a face exactly at the decision threshold has 0.5 (equals `probability` or 1 − it when the
   * threshold is 0.5).
   */
  readonly confidence: number;
  /** The model's raw output: probability of `labels[1]` (e.g. male), in [0, 1]. */
  readonly probability: number;
  /**
   * Decision log-odds of `labels[1]`: log(p / (1 − p)) − log(t / (1 − t)) for threshold t, clamped
   * to ±12; 0 is the threshold. Averaged by the tracker.
   */
  readonly logit: number;
}

const LOGIT_LIMIT = 12;
const logOdds = (p: number) => Math.log(p / (1 - p));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The decision for a probability of `labels[1]` under a threshold (default 0.5). */
export function toClassification(labels: readonly string[], probability: number, threshold = 0.5): Classification {
  const p = Math.min(1, Math.max(0, probability));
  const logit = Math.max(-LOGIT_LIMIT, Math.min(LOGIT_LIMIT, logOdds(p) - logOdds(threshold)));
  const positive = logit >= 0;
  return { label: labels[positive ? 1 : 0], confidence: sigmoid(Math.abs(logit)), probability: p, logit };
}

/** Mirrors an RGB crop left-right (size × size × 3, HWC). */
export function mirrorCrop(crop: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(crop.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = (y * size + x) * 3;
      const to = (y * size + size - 1 - x) * 3;
      out[to] = crop[from];
      out[to + 1] = crop[from + 1];
      out[to + 2] = crop[from + 2];
    }
  }
  return out;
}

export class FaceClassifier {
  readonly manifest: ModelManifest;
  readonly modelPath: string;
  /** sha256 of the model file, verified against the manifest on load. */
  readonly sha256: string;
  /** Crop side expected by the model, pixels. */
  readonly inputSize: number;
  /** How faces must be cropped for this model: the geometry its training crops were made with. */
  readonly alignment: CropAlignment;
  /** Decision threshold on the probability of `labels[1]`: the manifest's `threshold` (default 0.5). */
  readonly threshold: number;
  /** Whether each crop is classified together with its mirror image (logits averaged). */
  readonly flipAverage: boolean;
  #model: TfliteModel;
  #input: TensorInfo;
  #output: TensorInfo;

  private constructor(
    modelPath: string,
    sha256: string,
    manifest: ModelManifest,
    model: TfliteModel,
    flipAverage: boolean,
  ) {
    this.modelPath = modelPath;
    this.threshold = manifest.threshold ?? 0.5;
    this.flipAverage = flipAverage;
    this.sha256 = sha256;
    this.manifest = manifest;
    this.#model = model;
    [this.#input] = model.inputs;
    [this.#output] = model.outputs;
    this.inputSize = this.#input.shape[1];
    this.alignment = { ...recordedAlignment(manifest.alignment), size: this.inputSize };
  }

  /** A fresh input buffer holding `crop` preprocessed: each call owns its own (see `TfliteModel.run`). */
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

  /** Loads, verifies (manifest sha256, input NHWC [1,64,64,3] or as the manifest says, one output). */
  static async create(options: FaceClassifierOptions): Promise<FaceClassifier> {
    let bytes: Buffer;
    try {
      bytes = await readFile(options.modelPath);
    } catch (cause) {
      throw new FaceedgeError(
        'MODEL_NOT_FOUND',
        `cannot read classifier ${options.modelPath}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const { manifest, file } = await loadManifestFor(options.modelPath, bytes, options.manifestPath);
    const model = TfliteModel.fromBuffer(bytes, options.modelPath, {
      threads: options.threads,
      delegate: options.delegate,
    });
    const problem = checkSignature(model, manifest);
    if (problem) {
      await model.close();
      throw new FaceedgeError('MODEL_SHAPE_MISMATCH', `${options.modelPath}: ${problem}`, {
        hint: 'faceedge classifiers take one NHWC RGB crop and return one sigmoid probability',
      });
    }
    return new FaceClassifier(
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

  get labels(): readonly string[] {
    return this.manifest.labels;
  }

  get delegate(): DelegateStatus {
    return this.#model.delegate;
  }

  get inputDtype(): string {
    return this.#input.dtype;
  }

  /** Classifies one aligned crop (inputSize² × 3 RGB bytes) on a worker thread; safe to call concurrently. */
  async classify(crop: Uint8Array): Promise<Classification> {
    const crops = this.flipAverage ? [crop, mirrorCrop(crop, this.inputSize)] : [crop];
    const outs = await Promise.all(crops.map((c) => this.#model.run([this.#inputFor(c)])));
    return this.#decide(outs.map(([out]) => out));
  }

  /** Same on the calling thread (bench, batch evaluation). */
  classifySync(crop: Uint8Array): Classification {
    const crops = this.flipAverage ? [crop, mirrorCrop(crop, this.inputSize)] : [crop];
    return this.#decide(crops.map((c) => this.#model.runSync([this.#inputFor(c)])[0]));
  }

  /** One output, or the logit average of the crop's and its mirror's, decided against the threshold. */
  #decide(outputs: readonly unknown[]): Classification {
    const probabilities = outputs.map((out) => readScalarOutput(this.#output, out as ArrayLike<number>));
    if (probabilities.length === 1) return toClassification(this.labels, probabilities[0], this.threshold);
    const clamp = (p: number) => Math.min(1 - 1e-7, Math.max(1e-7, p));
    const meanLogit = probabilities.reduce((sum, p) => sum + logOdds(clamp(p)), 0) / probabilities.length;
    return toClassification(this.labels, sigmoid(meanLogit), this.threshold);
  }

  async close(): Promise<void> {
    await this.#model.close();
  }
}

function checkSignature(model: TfliteModel, manifest: ModelManifest): string | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    return `expected 1 input and 1 output, found ${model.inputs.length} and ${model.outputs.length}`;
  }
  const [input] = model.inputs;
  const want = [1, manifest.input.height, manifest.input.width, 3];
  if (input.shape.length !== 4 || input.shape.some((d, i) => d !== want[i])) {
    return `input is ${input.shape.join('x')}, expected ${want.join('x')}`;
  }
  if (!['float32', 'int8', 'uint8'].includes(input.dtype))
    return `input dtype ${input.dtype} is not float32/int8/uint8`;
  const [output] = model.outputs;
  if (output.shape.reduce((a, b) => a * b, 1) !== 1) return `output is ${output.shape.join('x')}, expected one value`;
  return null;
}
