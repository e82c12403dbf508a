export { TfliteModel, type TfliteModelOptions, type DelegateStatus } from './tflite-model.js';
export { delegateName, type DelegateSpec } from './delegate.js';
export type { TensorInfo, TensorDtype, Quantization, TensorArray } from './tensor-info.js';
