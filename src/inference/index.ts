/**
 * Inference: one TFLite runtime (`TfliteModel`: the C library through koffi, delegates, a serialized
 * worker-thread queue) and the two tasks that run on it side by side — the BlazeFace face detector and
 * the 64×64 face classifier. Image geometry they need (letterbox, aligner) lives in `src/vision`, which
 * imports nothing from here.
 */
export { TfliteModel, type TfliteModelOptions, type DelegateStatus } from './tflite-model.js';
export { delegateName, type DelegateSpec } from './delegate.js';
export type { TensorInfo, TensorDtype, Quantization, TensorArray } from './tensor-info.js';
export { FaceDetector, type FaceDetectorOptions, type DetectorModel } from './face-detector.js';
export { FaceClassifier, type FaceClassifierOptions, type Classification } from './face-classifier.js';
