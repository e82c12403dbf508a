/**
 * The 64×64 face classifier: a TFLite model (int8 or float) + its manifest, with the project's
 * preprocessing contract. Two labels: one sigmoid output, the probability of `labels[1]`, decided by the
 * manifest's threshold. Three or more: one logit per label, decided by softmax(logits / temperature) and
 * the unsure floor (src/inference/classification.ts).
 */
import { readFile } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import { recordedAlignment, type CropAlignment } from '../vision/align-face.js';
import type { DelegateSpec } from './delegate.js';
import { loadManifestFor, type ModelManifest } from './model-manifest.js';
import {
  toClassification,
  toSoftmaxClassification,
  type Classification,
  type SoftmaxDecision,
} from '../classification/classification.js';
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

export { toClassification, type Classification };

const logOdds = (p: number) => Math.log(p / (1 - p));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

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
  /** Two labels: decision threshold on the probability of `labels[1]`, the manifest's `threshold` (default 0.5). */
  readonly threshold: number;
  /** Three or more labels: the manifest's temperature and unsure floor (defaults 1 and 0). */
  readonly softmax: Required<SoftmaxDecision>;
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
    this.softmax = { temperature: manifest.temperature ?? 1, unsureFloor: manifest.unsure_floor ?? 0 };
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
        hint: 'faceedge classifiers take one NHWC RGB crop and return one sigmoid probability (two labels) or one logit per label',
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

  /**
   * Below this confidence a face is `unknown`: three or more labels, the manifest's `unsure_floor`
   * (default 0); two labels 0 (their unsure band is the tracker's `unsure_margin`).
   */
  get unsureFloor(): number {
    return this.#multiClass ? this.softmax.unsureFloor : 0;
  }

  /** Whether the model has one logit per label (three or more labels) rather than one probability. */
  get #multiClass(): boolean {
    return this.manifest.labels.length > 2;
  }

  get delegate(): DelegateStatus {
    return this.#model.delegate;
  }

  /** Dequantization scale of the output tensor (1 for float models). */
  get outputScale(): number {
    return this.#output.quantization?.scale ?? 1;
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

  /**
   * One output, or the logit average of the crop's and its mirror's, decided against the threshold (two
   * labels) or by softmax, argmax and the unsure floor (three or more).
   */
  #decide(outputs: readonly unknown[]): Classification {
    if (this.#multiClass) {
      const logits = outputs.map((out) => readVectorOutput(this.#output, out as ArrayLike<number>));
      const mean = logits[0].map((_, i) => logits.reduce((sum, l) => sum + l[i], 0) / logits.length);
      return toSoftmaxClassification(this.labels, mean, this.softmax);
    }
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
  const wantOutputs = manifest.labels.length > 2 ? manifest.labels.length : 1;
  if (output.shape.reduce((a, b) => a * b, 1) !== wantOutputs) {
    return `output is ${output.shape.join('x')}, expected ${wantOutputs === 1 ? 'one value' : `${wantOutputs} logits, one per label`}`;
  }
  return null;
}

/** Every value of an output tensor, dequantized. */
function readVectorOutput(output: TensorInfo, data: ArrayLike<number>): number[] {
  const q = output.quantization;
  return Array.from(data, (v) => (q ? q.scale * (v - q.zeroPoint) : v));
}
