/**
 * The golden self-test a package carries (`manifest.selftest`, written by faceedge_train.export):
 * aligned crops as PNG with the probabilities the exporter measured. A candidate model is loaded in
 * its own interpreter and must reproduce them before it may replace the serving model.
 */
import sharp from 'sharp';
import { FaceedgeError } from '../errors.js';
import type { DelegateSpec } from '../inference/delegate.js';
import { FaceClassifier } from '../inference/face-classifier.js';

export interface SelfTestCase {
  readonly png_base64: string;
  /** Float model's probability of `labels[1]`. */
  readonly expected_probability: number;
  /** int8 model's probability (dequantized output) where the exporter recorded it. */
  readonly expected_int8_probability?: number;
}

export interface SelfTestOptions {
  /**
   * Allowed |Δp| for int8 models. Default 2/256: two steps of the 1/256 output scale (kernels may round differently).
   */
  readonly int8Tolerance?: number;
  /** Allowed |Δp| for float models. Default 1e-3. */
  readonly floatTolerance?: number;
  /** Delegate for the candidate interpreter. Default XNNPACK, like the daemon. */
  readonly delegate?: DelegateSpec;
}

export interface SelfTestResult {
  readonly modelPath: string;
  readonly cases: number;
  /** Largest |Δp| seen. */
  readonly maxError: number;
  readonly tolerance: number;
}

export const DEFAULT_INT8_TOLERANCE = 2 / 256;
export const DEFAULT_FLOAT_TOLERANCE = 1e-3;

async function decodeCrop(pngBase64: string, size: number, index: number): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(Buffer.from(pngBase64, 'base64'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size || info.channels !== 3) {
      throw new Error(`is ${info.width}x${info.height}x${info.channels}, the model takes ${size}x${size}x3`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (cause) {
    throw new FaceedgeError('MODEL_SELFTEST_FAILED', `self-test image ${index}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Loads `modelPath` (+ manifest) in a new interpreter — it checks sha256 and input/output shapes —
 * runs every self-test case and closes it. Throws MODEL_SELFTEST_FAILED (or the loader's typed error).
 */
export async function runModelSelfTest(
  modelPath: string,
  manifestPath: string,
  options: SelfTestOptions = {},
): Promise<SelfTestResult> {
  const classifier = await FaceClassifier.create({
    modelPath,
    manifestPath,
    threads: 1,
    delegate: options.delegate,
    flipAverage: false,
  });
  try {
    const cases = (classifier.manifest.selftest ?? []) as readonly SelfTestCase[];
    if (cases.length === 0) {
      throw new FaceedgeError('MODEL_SELFTEST_FAILED', `${modelPath}: the manifest has no selftest cases`, {
        hint: 'export the model with faceedge_train.export, which records golden inputs and outputs',
      });
    }
    const int8 = classifier.inputDtype !== 'float32';
    const tolerance = int8
      ? (options.int8Tolerance ?? DEFAULT_INT8_TOLERANCE)
      : (options.floatTolerance ?? DEFAULT_FLOAT_TOLERANCE);
    let maxError = 0;
    for (const [i, c] of cases.entries()) {
      const expected = int8 ? (c.expected_int8_probability ?? c.expected_probability) : c.expected_probability;
      if (typeof expected !== 'number' || !Number.isFinite(expected)) {
        throw new FaceedgeError(
          'MODEL_SELFTEST_FAILED',
          `${modelPath}: self-test case ${i} has no expected probability`,
        );
      }
      const got = classifier.classifySync(await decodeCrop(c.png_base64, classifier.inputSize, i)).probability;
      const error = Math.abs(got - expected);
      maxError = Math.max(maxError, error);
      if (!(error <= tolerance)) {
        throw new FaceedgeError(
          'MODEL_SELFTEST_FAILED',
          `${modelPath}: self-test case ${i} gave p=${got.toFixed(5)}, expected ${expected.toFixed(5)} (±${tolerance.toFixed(5)})`,
          {
            hint: 'the model does not reproduce the outputs recorded at export: wrong file, broken conversion or an incompatible runtime',
          },
        );
      }
    }
    return { modelPath, cases: cases.length, maxError, tolerance };
  } finally {
    await classifier.close();
  }
}
