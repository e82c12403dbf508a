/** A detected face, in source-image pixels. */

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** BlazeFace's six keypoints; "right"/"left" are the subject's (the right eye is on the image's left). */
export interface FaceKeypoints {
  readonly rightEye: Point;
  readonly leftEye: Point;
  readonly noseTip: Point;
  readonly mouth: Point;
  readonly rightEar: Point;
  readonly leftEar: Point;
}

/** An axis-aligned box in source-image pixels: top-left corner and size. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface DetectedFace {
  /** Top-left corner and size, in source pixels (may extend past the image edge). */
  readonly box: Box;
  readonly keypoints: FaceKeypoints;
  /** Detector confidence in [0, 1]. */
  readonly score: number;
}
