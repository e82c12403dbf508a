/**
 * The preprocessing contract shared with training (`train/faceedge_train/data.py`), pinned by the
 * golden fixtures in test/fixtures/golden that both test suites check:
 *   crop: size × size × 3 RGB uint8, HWC
 *   float input: (pixel − 128) / 128, NHWC float32
 *   int8 input:  pixel − 128 (scale 1/128, zero point 0), NHWC int8
 */
import { FaceedgeError } from '../errors.js';
import type { TensorInfo } from './tensor-info.js';

/** Input normalization `(pixel − mean) / std`, as a model's manifest records it (`input.normalization`). */
export interface Normalization {
  readonly mean: number;
  readonly std: number;
}

/** The contract's normalization, and what a manifest without `input.normalization` means. */
export const NORMALIZATION: Normalization = { mean: 128, std: 128 };

/**
 * Writes `crop` into `target` (the model's input buffer) following the tensor's dtype/quantization
 * and the model's normalization (default the contract's).
 */
export function fillClassifierInput(
  crop: Uint8Array,
  input: TensorInfo,
  target: Float32Array | Int8Array | Uint8Array,
  normalization: Normalization = NORMALIZATION,
): void {
  const { mean, std } = normalization;
  if (crop.length !== target.length) {
    throw new FaceedgeError(
      'INFERENCE_FAILED',
      `crop has ${crop.length} values, model input ${input.shape.join('x')} needs ${target.length}`,
    );
  }
  if (input.dtype === 'float32') {
    for (let i = 0; i < crop.length; i++) target[i] = (crop[i] - mean) / std;
    return;
  }
  const q = input.quantization;
  if (!q)
    throw new FaceedgeError('MODEL_INVALID', `input ${input.name} is ${input.dtype} without quantization parameters`);
  const [lo, hi] = input.dtype === 'int8' ? [-128, 127] : [0, 255];
  if (input.dtype === 'int8' && Math.abs(q.scale - 1 / std) < 1e-9 && q.zeroPoint === 0 && Number.isInteger(mean)) {
    // The contract's exact case: a subtraction, no rounding.
    for (let i = 0; i < crop.length; i++) target[i] = crop[i] - mean;
    return;
  }
  for (let i = 0; i < crop.length; i++) {
    const real = (crop[i] - mean) / std;
    target[i] = Math.min(hi, Math.max(lo, Math.round(real / q.scale + q.zeroPoint)));
  }
}

/** Dequantizes a single-value output tensor into a real number. */
export function readScalarOutput(output: TensorInfo, data: ArrayLike<number>): number {
  const value = data[0];
  return output.quantization ? output.quantization.scale * (value - output.quantization.zeroPoint) : value;
}
