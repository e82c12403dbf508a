/**
 * The passive anti-spoofing network on one frame: a MiniFASNet (Minivision, Apache-2.0) exported to TFLite
 * (`models/liveness/`), fed the crop it was trained on (src/liveness/anti-spoof-crop.ts) and read as
 * P(live) = softmax(logits)[live_index]. One model per process, shared by every camera: `score` runs on the
 * interpreter's worker thread and each call owns its input buffer, so concurrent calls are safe.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { RgbImage } from '../capture/frame.js';
import { FaceedgeError } from '../errors.js';
import type { DelegateSpec } from '../inference/delegate.js';
import { TfliteModel, type DelegateStatus } from '../inference/tflite-model.js';
import type { Box } from '../vision/face.js';
import { antiSpoofCrop, type AntiSpoofCropGeometry } from './anti-spoof-crop.js';
import { cropGeometryOf, loadAntiSpoofManifest, type AntiSpoofManifest } from './anti-spoof-manifest.js';

export interface AntiSpoofNetworkOptions {
  /** Path of the `.tflite` file; `manifest.json` sits next to it unless `manifestPath` says otherwise. */
  readonly modelPath: string;
  readonly manifestPath?: string;
  /** Interpreter threads. Default 1. */
  readonly threads?: number;
  /** Default XNNPACK. */
  readonly delegate?: DelegateSpec;
}

/** The network's view of one face in one frame. */
export interface AntiSpoofScore {
  /** P(live) in [0, 1]: the softmax of the logits at the manifest's `live_index`. */
  readonly live: number;
  /** `live` ≥ the manifest's threshold. One frame; a track should judge several (see `passiveVerdict`). */
  readonly passed: boolean;
  /** The raw logits, one per class of the manifest. */
  readonly logits: readonly number[];
}

/** Largest self-test logit difference accepted (the float graph reproduces PyTorch to ~1e-5). */
const SELFTEST_TOLERANCE = 1e-3;

export function softmax(logits: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(logits));
  const e = Array.from(logits, (x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

export class AntiSpoofNetwork {
  readonly manifest: AntiSpoofManifest;
  readonly crop: AntiSpoofCropGeometry;
  /** P(live) below this is an attack (the manifest's `threshold`). */
  readonly threshold: number;
  #model: TfliteModel;

  private constructor(manifest: AntiSpoofManifest, model: TfliteModel) {
    this.manifest = manifest;
    this.crop = cropGeometryOf(manifest);
    this.threshold = manifest.threshold;
    this.#model = model;
  }

  /**
   * Loads and verifies the model: manifest sha256, one float32 input [1, size, size, 3] and one output with
   * one logit per class, then runs the manifest's self-test. Throws FaceedgeError (MODEL_NOT_FOUND,
   * MODEL_INVALID, MODEL_CHECKSUM_MISMATCH, MODEL_SHAPE_MISMATCH, MODEL_SELFTEST_FAILED).
   */
  static async create(options: AntiSpoofNetworkOptions): Promise<AntiSpoofNetwork> {
    let bytes: Buffer;
    try {
      bytes = await readFile(options.modelPath);
    } catch (cause) {
      throw new FaceedgeError('MODEL_NOT_FOUND', `cannot read ${options.modelPath}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const manifest = await loadAntiSpoofManifest(options.modelPath, bytes, options.manifestPath);
    const model = TfliteModel.fromBuffer(bytes, options.modelPath, {
      threads: options.threads,
      delegate: options.delegate,
    });
    const network = new AntiSpoofNetwork(manifest, model);
    try {
      network.#checkSignature();
      await network.#selfTest();
    } catch (err) {
      await model.close();
      throw err;
    }
    return network;
  }

  get delegate(): DelegateStatus {
    return this.#model.delegate;
  }

  #checkSignature(): void {
    const [input] = this.#model.inputs;
    const [output] = this.#model.outputs;
    const size = this.crop.size;
    const ok =
      this.#model.inputs.length === 1 &&
      this.#model.outputs.length === 1 &&
      input.dtype === 'float32' &&
      input.shape.join() === [1, size, size, 3].join() &&
      output.dtype === 'float32' &&
      output.shape.join() === [1, this.manifest.classes.length].join();
    if (!ok) {
      throw new FaceedgeError(
        'MODEL_SHAPE_MISMATCH',
        `${this.manifest.id}: input ${input?.dtype} [${input?.shape.join()}] / output ${output?.dtype} [${output?.shape.join()}], ` +
          `the manifest says float32 [1,${size},${size},3] / [1,${this.manifest.classes.length}]`,
      );
    }
  }

  async #selfTest(): Promise<void> {
    for (const [i, t] of this.manifest.selftest.entries()) {
      const { data, info } = await sharp(Buffer.from(t.png_base64, 'base64'))
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.width !== this.crop.size || info.height !== this.crop.size) {
        throw new FaceedgeError('MODEL_INVALID', `${this.manifest.id}: self-test image ${i} is not ${this.crop.size}²`);
      }
      const { logits } = await this.scoreCrop(data);
      const worst = Math.max(...logits.map((x, k) => Math.abs(x - t.expected_logits[k])));
      if (!(worst <= SELFTEST_TOLERANCE)) {
        throw new FaceedgeError(
          'MODEL_SELFTEST_FAILED',
          `${this.manifest.id}: self-test ${i} logits differ by ${worst} from the exporter's`,
          { hint: 'the model file does not compute what its manifest recorded; reinstall it' },
        );
      }
    }
  }

  /** Scores one crop made by `antiSpoofCrop` with this model's geometry (size² × 3 RGB bytes). */
  async scoreCrop(crop: Uint8Array): Promise<AntiSpoofScore> {
    const input = Float32Array.from(crop); // the model takes 0..255 as they are
    const [out] = await this.#model.run([input]);
    const logits = Array.from(out as Float32Array);
    const live = softmax(logits)[this.manifest.live_index];
    return { live, passed: live >= this.threshold, logits };
  }

  /** Crops the face with BlazeFace box `box` (source pixels) from `image` and scores it. */
  score(image: RgbImage, box: Box): Promise<AntiSpoofScore> {
    return this.scoreCrop(antiSpoofCrop(image, box, this.crop));
  }

  async close(): Promise<void> {
    await this.#model.close();
  }
}
