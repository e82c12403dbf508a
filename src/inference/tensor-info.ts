/** Typed descriptions of interpreter tensors, read from the model. */
import { TfLiteType } from './tflite-library.js';

export type TensorDtype = 'float32' | 'int32' | 'uint8' | 'int64' | 'int16' | 'int8';

export interface Quantization {
  /** real_value = scale * (quantized_value - zeroPoint) */
  readonly scale: number;
  readonly zeroPoint: number;
}

export interface TensorInfo {
  readonly name: string;
  readonly dtype: TensorDtype;
  /** Dimensions, e.g. [1, 64, 64, 3] (NHWC). */
  readonly shape: readonly number[];
  readonly byteSize: number;
  /** Per-tensor quantization; null for float tensors (scale 0 in TFLite). */
  readonly quantization: Quantization | null;
}

export type TensorArray = Float32Array | Int32Array | Uint8Array | Int8Array | Int16Array | BigInt64Array;

const DTYPE_BY_CODE = new Map<number, TensorDtype>(
  Object.entries(TfLiteType).map(([name, code]) => [code, name as TensorDtype]),
);

export function dtypeFromCode(code: number): TensorDtype | undefined {
  return DTYPE_BY_CODE.get(code);
}

/** A fresh typed array view of the right element type over `bytes`. */
export function typedView(dtype: TensorDtype, bytes: Buffer): TensorArray {
  const { buffer, byteOffset, byteLength } = bytes;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, byteLength / 4);
    case 'int32':
      return new Int32Array(buffer, byteOffset, byteLength / 4);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, byteLength / 8);
    case 'int16':
      return new Int16Array(buffer, byteOffset, byteLength / 2);
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, byteLength);
    case 'int8':
      return new Int8Array(buffer, byteOffset, byteLength);
  }
}
