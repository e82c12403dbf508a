/**
 * The crop the MiniFASNet anti-spoofing models were trained on, made from a BlazeFace box: an axis-aligned
 * rectangle `scale` times the publisher's face box (a RetinaFace box, which `boxMap` derives from BlazeFace's),
 * shrunk until it fits the image and shifted inside it (never padded: the border of a photo held up to the
 * camera is part of the evidence), resized to `size`×`size` by OpenCV's bilinear rule without anti-aliasing,
 * as the publisher's pipeline does. This is a different geometry from the recognition and classifier aligner
 * (src/vision/align-face.ts: rotated, eye-scaled, mirror-padded), so it lives here.
 *
 * The Python reference is `train/faceedge_train/liveness/crop.py`; test/fixtures/liveness/ pins the two
 * together (both test suites check the same golden crop).
 */
import type { RgbImage } from '../capture/frame.js';
import type { Box } from '../vision/face.js';

/** The publisher's face box from a BlazeFace box: centre offset and size, in BlazeFace box sides. */
export interface DetectorBoxMap {
  readonly centreX: number;
  readonly centreY: number;
  readonly width: number;
  readonly height: number;
}

/** Everything that decides the crop; recorded in the anti-spoofing model's manifest. */
export interface AntiSpoofCropGeometry {
  /** Output side, pixels (80 for the published models). */
  readonly size: number;
  /** Crop side in publisher face boxes (2.7 for MiniFASNetV2, 4.0 for V1SE). */
  readonly scale: number;
  readonly boxMap: DetectorBoxMap;
}

/** Inclusive pixel bounds of a crop rectangle. */
export interface PixelBounds {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/** The publisher's box (x, y, width, height) for a BlazeFace box. */
export function publisherBox(box: Box, map: DetectorBoxMap): Box {
  const side = (box.width + box.height) / 2;
  const cx = box.x + box.width / 2 + map.centreX * side;
  const cy = box.y + box.height / 2 + map.centreY * side;
  const width = map.width * side;
  const height = map.height * side;
  return { x: cx - width / 2, y: cy - height / 2, width, height };
}

/**
 * The crop rectangle of `box` (a publisher box) at `scale` in an image of the given size: the scale shrinks
 * until the crop fits, then the crop is shifted inside the image; corners truncate toward zero.
 */
export function publisherCropBounds(imageWidth: number, imageHeight: number, box: Box, scale: number): PixelBounds {
  const s = Math.min((imageHeight - 1) / box.height, (imageWidth - 1) / box.width, scale);
  const width = box.width * s;
  const height = box.height * s;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  let left = cx - width / 2;
  let top = cy - height / 2;
  let right = cx + width / 2;
  let bottom = cy + height / 2;
  if (left < 0) {
    right -= left;
    left = 0;
  }
  if (top < 0) {
    bottom -= top;
    top = 0;
  }
  if (right > imageWidth - 1) {
    left -= right - imageWidth + 1;
    right = imageWidth - 1;
  }
  if (bottom > imageHeight - 1) {
    top -= bottom - imageHeight + 1;
    bottom = imageHeight - 1;
  }
  return { left: Math.trunc(left), top: Math.trunc(top), right: Math.trunc(right), bottom: Math.trunc(bottom) };
}

/** Source taps of OpenCV's INTER_LINEAR along one axis: pixel centres aligned, clamped at the edges. */
function taps(outSize: number, start: number, inSize: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const f = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const s = Math.min(inSize - 1, Math.max(0, (o + 0.5) * (inSize / outSize) - 0.5));
    const base = Math.floor(s);
    i0[o] = start + base;
    i1[o] = start + Math.min(base + 1, inSize - 1);
    f[o] = s - base;
  }
  return { i0, i1, f };
}

/**
 * The `size`×`size` RGB crop (interleaved bytes) of the face with BlazeFace box `box` in `image`.
 * Deterministic and allocation-light (two small tap tables and the output).
 */
export function antiSpoofCrop(image: RgbImage, box: Box, geometry: AntiSpoofCropGeometry): Buffer {
  const b = publisherCropBounds(image.width, image.height, publisherBox(box, geometry.boxMap), geometry.scale);
  const n = geometry.size;
  const xs = taps(n, b.left, b.right - b.left + 1);
  const ys = taps(n, b.top, b.bottom - b.top + 1);
  const out = Buffer.alloc(n * n * 3);
  const { data, width } = image;
  for (let v = 0; v < n; v++) {
    const r0 = ys.i0[v] * width;
    const r1 = ys.i1[v] * width;
    const fy = ys.f[v];
    for (let u = 0; u < n; u++) {
      const a = (r0 + xs.i0[u]) * 3;
      const bb = (r0 + xs.i1[u]) * 3;
      const c = (r1 + xs.i0[u]) * 3;
      const d = (r1 + xs.i1[u]) * 3;
      const fx = xs.f[u];
      const o = (v * n + u) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = data[a + ch] * (1 - fx) + data[bb + ch] * fx;
        const bottom = data[c + ch] * (1 - fx) + data[d + ch] * fx;
        out[o + ch] = Math.min(255, Math.max(0, Math.floor(top * (1 - fy) + bottom * fy + 0.5)));
      }
    }
  }
  return out;
}
