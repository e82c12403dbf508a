/**
 * BlazeFace face detector (short range for faces within ~2 m, full range up to ~5 m), from the
 * `.tflite` files shipped in `@mediapipe/face_detection`, run by faceedge's TFLite runtime.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RgbImage } from '../capture/frame.js';
import type { DelegateSpec } from './delegate.js';
import type { DelegateStatus } from './tflite-model.js';
import { TfliteModel } from './tflite-model.js';
import { FULL_RANGE_LAYOUT, SHORT_RANGE_LAYOUT, generateAnchors, type AnchorLayout } from './blazeface-anchors.js';
import { decodeDetections, weightedNonMaxSuppression, type RawDetection } from './blazeface-decode.js';
import type { DetectedFace, Point } from '../vision/face.js';
import {
  computeLetterbox,
  letterboxInto,
  letterboxTables,
  toSourceX,
  toSourceY,
  type Letterbox,
  type LetterboxTables,
} from '../vision/letterbox.js';

export type DetectorModel = 'short' | 'full';

export interface FaceDetectorOptions {
  /** `short` (128×128, default) or `full` (192×192, small/far faces). */
  readonly model?: DetectorModel;
  /** Minimum detection score in [0, 1]. Default 0.5 (short) / 0.6 (full), MediaPipe's values. */
  readonly scoreThreshold?: number;
  /** IoU above which candidates merge in weighted NMS. Default 0.3. */
  readonly iouThreshold?: number;
  /** Interpreter threads. Default 1. */
  readonly threads?: number;
  /** Default XNNPACK. */
  readonly delegate?: DelegateSpec;
}

const MODELS: Record<DetectorModel, { file: string; layout: AnchorLayout; minScore: number }> = {
  short: { file: 'face_detection_short_range.tflite', layout: SHORT_RANGE_LAYOUT, minScore: 0.5 },
  full: { file: 'face_detection_full_range.tflite', layout: FULL_RANGE_LAYOUT, minScore: 0.6 },
};

/** Absolute path of a BlazeFace model inside node_modules/@mediapipe/face_detection. */
export function blazeFaceModelPath(model: DetectorModel): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@mediapipe/face_detection/package.json')), MODELS[model].file);
}

/** Frame sizes whose letterbox tables are kept (one per camera is the common case). */
const MAX_CACHED_GEOMETRIES = 16;

export class FaceDetector {
  readonly model: DetectorModel;
  scoreThreshold: number;
  iouThreshold: number;
  readonly inputSize: number;
  #tflite: TfliteModel;
  #anchors: Float32Array;
  /**
   * Letterbox geometry per frame size: each camera keeps one size, so it is computed once per camera
   * (a few entries; immutable once built, so concurrent calls may share them).
   */
  #geometry = new Map<string, { box: Letterbox; tables: LetterboxTables }>();

  private constructor(model: DetectorModel, tflite: TfliteModel, options: FaceDetectorOptions) {
    const spec = MODELS[model];
    this.model = model;
    this.#tflite = tflite;
    this.inputSize = spec.layout.inputSize;
    this.#anchors = generateAnchors(spec.layout);
    this.scoreThreshold = options.scoreThreshold ?? spec.minScore;
    this.iouThreshold = options.iouThreshold ?? 0.3;
  }

  static async create(options: FaceDetectorOptions = {}): Promise<FaceDetector> {
    const model = options.model ?? 'short';
    const tflite = await TfliteModel.load(blazeFaceModelPath(model), {
      threads: options.threads,
      delegate: options.delegate,
    });
    return new FaceDetector(model, tflite, options);
  }

  /** Changes thresholds from the next `detect` on (the `options` bridge command). */
  retune(options: Pick<FaceDetectorOptions, 'scoreThreshold' | 'iouThreshold'>): void {
    this.scoreThreshold = options.scoreThreshold ?? this.scoreThreshold;
    this.iouThreshold = options.iouThreshold ?? this.iouThreshold;
  }

  get delegate(): DelegateStatus {
    return this.#tflite.delegate;
  }

  /**
   * Faces in `image`, in source pixels, best first. Returns fresh plain objects. Safe to call from
   * several cameras at once: each call letterboxes into its own input buffer, which the shared
   * interpreter reads when the call's turn comes.
   */
  async detect(image: RgbImage): Promise<DetectedFace[]> {
    const { box, tables } = this.#geometryFor(image.width, image.height);
    // MediaPipe's BlazeFace expects RGB in [-1, 1].
    const input = new Float32Array(this.inputSize * this.inputSize * 3);
    letterboxInto(image, box, input, tables);
    const [regressors, scores] = (await this.#tflite.run([input])) as Float32Array[];
    const candidates = decodeDetections(regressors, scores, this.#anchors, this.inputSize, this.scoreThreshold);
    return weightedNonMaxSuppression(candidates, this.iouThreshold).map((d) => toFace(d, box));
  }

  #geometryFor(width: number, height: number) {
    const key = `${width}x${height}`;
    let g = this.#geometry.get(key);
    if (!g) {
      // Bounded: a source that changes size every frame (a folder of photos) must not grow the map.
      if (this.#geometry.size >= MAX_CACHED_GEOMETRIES) this.#geometry.clear();
      const box = computeLetterbox(width, height, this.inputSize);
      g = { box, tables: letterboxTables(width, height, box) };
      this.#geometry.set(key, g);
    }
    return g;
  }

  async close(): Promise<void> {
    await this.#tflite.close();
  }
}

function toFace(d: RawDetection, box: Letterbox): DetectedFace {
  const point = (k: number): Point => ({
    x: toSourceX(box, d.keypoints[2 * k]),
    y: toSourceY(box, d.keypoints[2 * k + 1]),
  });
  const x0 = toSourceX(box, d.box[0]);
  const y0 = toSourceY(box, d.box[1]);
  return {
    box: { x: x0, y: y0, width: toSourceX(box, d.box[2]) - x0, height: toSourceY(box, d.box[3]) - y0 },
    keypoints: {
      rightEye: point(0),
      leftEye: point(1),
      noseTip: point(2),
      mouth: point(3),
      rightEar: point(4),
      leftEar: point(5),
    },
    score: d.score,
  };
}
