/**
 * The 64×64 face classifier: a TFLite model (int8 or float) + its manifest, with the project's
 * preprocessing contract. One sigmoid output: the probability of `labels[1]`.
 */
import { readFile } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import { recordedAlignment, type CropAlignment } from '../vision/align-face.js';
import type { DelegateSpec } from './delegate.js';
import { loadManifestFor, type ModelManifest } from './model-manifest.js';
import { fillClassifierInput, readScalarOutput } from './preprocess.js';
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
}

export interface Classification {
  /** Decided label (`labels[1]` when probability ≥ 0.5). */
  readonly label: string;
  /** Probability of the decided label, in [0.5, 1]. */
  readonly confidence: number;
  /** Probability of `labels[1]` (e.g. male), in [0, 1]. */
  readonly probability: number;
  /** log(p / (1 − p)), clamped to ±12; averaged by the tracker. */
  readonly logit: number;
}

const LOGIT_LIMIT = 12;

export function toClassification(labels: readonly string[], probability: number): Classification {
  const p = Math.min(1, Math.max(0, probability));
  const positive = p >= 0.5;
  const logit = Math.max(-LOGIT_LIMIT, Math.min(LOGIT_LIMIT, Math.log(p / (1 - p))));
  return { label: labels[positive ? 1 : 0], confidence: positive ? p : 1 - p, probability: p, logit };
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
  #model: TfliteModel;
  #input: TensorInfo;
  #output: TensorInfo;

  private constructor(modelPath: string, sha256: string, manifest: ModelManifest, model: TfliteModel) {
    this.modelPath = modelPath;
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
    const buffer = this.#input.dtype === 'float32' ? new Float32Array(n) : this.#input.dtype === 'int8' ? new Int8Array(n) : new Uint8Array(n);
    fillClassifierInput(crop, this.#input, buffer);
    return buffer;
  }

  /** Loads, verifies (manifest sha256, input NHWC [1,64,64,3] or as the manifest says, one output). */
  static async create(options: FaceClassifierOptions): Promise<FaceClassifier> {
    let bytes: Buffer;
    try {
      bytes = await readFile(options.modelPath);
    } catch (cause) {
      throw new FaceedgeError('MODEL_NOT_FOUND', `cannot read classifier ${options.modelPath}: ${(cause as Error).message}`, { cause });
    }
    const { manifest, file } = await loadManifestFor(options.modelPath, bytes, options.manifestPath);
    const model = TfliteModel.fromBuffer(bytes, options.modelPath, { threads: options.threads, delegate: options.delegate });
    const problem = checkSignature(model, manifest);
    if (problem) {
      await model.close();
      throw new FaceedgeError('MODEL_SHAPE_MISMATCH', `${options.modelPath}: ${problem}`, {
        hint: 'faceedge classifiers take one NHWC RGB crop and return one sigmoid probability',
      });
    }
    return new FaceClassifier(options.modelPath, file.sha256, manifest, model);
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
    const [out] = await this.#model.run([this.#inputFor(crop)]);
    return toClassification(this.labels, readScalarOutput(this.#output, out as ArrayLike<number>));
  }

  /** Same on the calling thread (bench, batch evaluation). */
  classifySync(crop: Uint8Array): Classification {
    const [out] = this.#model.runSync([this.#inputFor(crop)]);
    return toClassification(this.labels, readScalarOutput(this.#output, out as ArrayLike<number>));
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
  if (!['float32', 'int8', 'uint8'].includes(input.dtype)) return `input dtype ${input.dtype} is not float32/int8/uint8`;
  const [output] = model.outputs;
  if (output.shape.reduce((a, b) => a * b, 1) !== 1) return `output is ${output.shape.join('x')}, expected one value`;
  return null;
}
