/**
 * The golden self-test a package carries (`manifest.selftest`, written by faceedge_train.export):
 * aligned crops as PNG with the probabilities the exporter measured. A candidate model is loaded in
 * its own interpreter and must reproduce them before it may replace the serving model.
 */
import sharp from 'sharp';
import { FaceedgeError } from '../errors.js';
import type { DelegateSpec } from '../inference/delegate.js';
import { argmax } from '../classification/classification.js';
import { FaceClassifier } from '../inference/face-classifier.js';

export interface SelfTestCase {
  readonly png_base64: string;
  /** Float model's probability of `labels[1]` (two labels). */
  readonly expected_probability: number;
  /** int8 model's probability (dequantized output) where the exporter recorded it (two labels). */
  readonly expected_int8_probability?: number;
  /** Three or more labels: the float model's probability of every label (softmax with the temperature). */
  readonly expected_probabilities?: readonly number[];
  /** Three or more labels: the int8 model's dequantized logits, as the exporter's TFLite runtime gave them. */
  readonly expected_int8_logits?: readonly number[];
}

export interface SelfTestOptions {
  /**
   * Allowed |Δp| for int8 models. Default 2/256: two steps of the 1/256 output scale (kernels may round
   * differently). Three or more labels compare the int8 logits instead, within two steps of their scale.
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
  /** Largest |Δp| seen (int8 models of three or more labels: largest |Δlogit|). */
  readonly maxError: number;
  readonly tolerance: number;
}

export const DEFAULT_INT8_TOLERANCE = 2 / 256;
export const DEFAULT_FLOAT_TOLERANCE = 1e-3;

/** An int8 model of three or more labels must give the exporter's logits within this many output steps. */
export const INT8_LOGIT_STEPS = 2;

/** What a case expects of this model: one probability (two labels), every probability or int8 logits. */
function expectedValues(c: SelfTestCase, int8: boolean, multiClass: boolean): readonly number[] | undefined {
  if (multiClass) return int8 ? c.expected_int8_logits : c.expected_probabilities;
  return [int8 ? (c.expected_int8_probability ?? c.expected_probability) : c.expected_probability];
}

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
    const multiClass = classifier.labels.length > 2;
    const tolerance = !int8
      ? (options.floatTolerance ?? DEFAULT_FLOAT_TOLERANCE)
      : multiClass
        ? INT8_LOGIT_STEPS * classifier.outputScale
        : (options.int8Tolerance ?? DEFAULT_INT8_TOLERANCE);
    let maxError = 0;
    for (const [i, c] of cases.entries()) {
      const expected = expectedValues(c, int8, multiClass);
      if (!expected || expected.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
        throw new FaceedgeError(
          'MODEL_SELFTEST_FAILED',
          `${modelPath}: self-test case ${i} has no expected ${multiClass ? (int8 ? 'int8 logits' : 'probabilities') : 'probability'}`,
          { hint: 'export the model with faceedge_train.export, which records them' },
        );
      }
      const result = classifier.classifySync(await decodeCrop(c.png_base64, classifier.inputSize, i));
      const got = multiClass ? ((int8 ? result.logits : result.probabilities) ?? []) : [result.probability];
      const errors = expected.map((e, k) => Math.abs((got[k] ?? NaN) - e));
      const worst = argmax(errors);
      const error = errors[worst];
      maxError = Math.max(maxError, error);
      if (!(error <= tolerance)) {
        const what = multiClass ? `${int8 ? 'logit' : 'p'} of ${classifier.labels[worst]}` : 'p';
        throw new FaceedgeError(
          'MODEL_SELFTEST_FAILED',
          `${modelPath}: self-test case ${i} gave ${what}=${got[worst]?.toFixed(5)}, expected ${expected[worst].toFixed(5)} (±${tolerance.toFixed(5)})`,
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
