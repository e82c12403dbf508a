/**
 * SSD anchors for BlazeFace, as MediaPipe's face-detection graphs configure them. With
 * `fixed_anchor_size` every anchor is 1×1 in normalized units, so an anchor is just a cell centre.
 */

export interface AnchorLayout {
  /** Model input side in pixels (square). */
  readonly inputSize: number;
  /** Feature-map strides, one entry per SSD layer; equal consecutive strides share one grid. */
  readonly strides: readonly number[];
  /** Anchors per cell contributed by each layer (aspect ratio 1 + the interpolated scale). */
  readonly anchorsPerLayer: number;
}

/** Short range: 128×128, grids 16×16 (2 anchors/cell) and 8×8 (6 anchors/cell) → 896 anchors. */
export const SHORT_RANGE_LAYOUT: AnchorLayout = { inputSize: 128, strides: [8, 16, 16, 16], anchorsPerLayer: 2 };
/** Full range: 192×192, one 48×48 grid with 1 anchor/cell → 2304 anchors. */
export const FULL_RANGE_LAYOUT: AnchorLayout = { inputSize: 192, strides: [4], anchorsPerLayer: 1 };

/** Anchor centres as interleaved [x0, y0, x1, y1, …] in [0, 1]. */
export function generateAnchors(layout: AnchorLayout): Float32Array {
  const centres: number[] = [];
  let layer = 0;
  while (layer < layout.strides.length) {
    const stride = layout.strides[layer];
    let perCell = 0;
    // Consecutive layers with the same stride stack their anchors on one grid.
    while (layer < layout.strides.length && layout.strides[layer] === stride) {
      perCell += layout.anchorsPerLayer;
      layer++;
    }
    const cells = Math.ceil(layout.inputSize / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let a = 0; a < perCell; a++) centres.push((x + 0.5) / cells, (y + 0.5) / cells);
      }
    }
  }
  return Float32Array.from(centres);
}
