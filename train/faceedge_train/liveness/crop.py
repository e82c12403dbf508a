"""The crop MiniFASNet was trained on, expressed from BlazeFace's box (the detector faceedge runs).

The publisher crops an axis-aligned rectangle around its own detector's box (a RetinaFace in Caffe):
`scale` times the box's width and height, about the box centre, shrunk when it would not fit the image and
then shifted inside it (never padded), and resized to 80x80 with OpenCV's bilinear rule (no anti-aliasing).
faceedge has BlazeFace boxes instead, which are smaller, square and sit lower on the face, so
`DetectorBoxMap` turns a BlazeFace box into the box RetinaFace would have given; the map was measured on
faces both detectors found (models/liveness/README.md, "Crop geometry").

This module is the reference the TypeScript runtime (src/liveness/anti-spoof-crop.ts) is pinned to by the
golden fixture test/fixtures/liveness/ (both test suites check it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DetectorBoxMap:
    """The publisher's box from a BlazeFace box (x, y, side): centre offset and size, in BlazeFace box sides."""

    centre_x: float = 0.0
    centre_y: float = 0.0
    width: float = 1.0
    height: float = 1.0

    def apply(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the equivalent publisher box, source pixels."""
        x, y, w, h = box
        side = (w + h) / 2
        cx = x + w / 2 + self.centre_x * side
        cy = y + h / 2 + self.centre_y * side
        bw, bh = self.width * side, self.height * side
        return cx - bw / 2, cy - bh / 2, bw, bh


#: The publisher box from a BlazeFace short-range box: medians over 390 faces both detectors found (300 faces-dev
#: test photos, 90 scene-clip frames; models/liveness/README.md, "Crop geometry"). Export writes it into the
#: manifest, which is where the runtime reads it.
BLAZEFACE_BOX_MAP = DetectorBoxMap(centre_x=0.0, centre_y=-0.03, width=1.03, height=1.05)


def publisher_crop_rect(
    image_w: int, image_h: int, box: tuple[float, float, float, float], scale: float
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), inclusive pixel indices, of the publisher's crop of `box` (x, y, w, h).

    The scale shrinks until the crop fits the image, then the crop is shifted inside it; corners are
    truncated to integers as the publisher's code does.
    """
    x, y, bw, bh = box
    scale = min((image_h - 1) / bh, (image_w - 1) / bw, scale)
    width, height = bw * scale, bh * scale
    cx, cy = x + bw / 2, y + bh / 2
    left, top, right, bottom = cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > image_w - 1:
        left, right = left - (right - image_w + 1), image_w - 1.0
    if bottom > image_h - 1:
        top, bottom = top - (bottom - image_h + 1), image_h - 1.0
    return math.trunc(left), math.trunc(top), math.trunc(right), math.trunc(bottom)


def resize_bilinear(image: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """OpenCV's INTER_LINEAR resize of an HxWxC uint8 image: pixel centres aligned, 2x2 taps, no anti-aliasing.

    Source coordinate of output pixel i: (i + 0.5) * in/out - 0.5, clamped to the image (edge pixels repeat).
    Rounded to the nearest level (OpenCV's fixed-point arithmetic can differ by one level).
    """
    in_h, in_w = image.shape[:2]

    def taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        s = np.clip(s, 0, n_in - 1)
        i0 = np.floor(s).astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (s - i0).astype(np.float64)

    y0, y1, fy = taps(out_h, in_h)
    x0, x1, fx = taps(out_w, in_w)
    img = image.astype(np.float64)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bottom = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    out = top * (1 - fy)[:, None, None] + bottom * fy[:, None, None]
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def crop_for_network(
    image: np.ndarray,
    blazeface_box: tuple[float, float, float, float],
    scale: float,
    box_map: DetectorBoxMap,
    size: int = 80,
) -> np.ndarray:
    """The size x size crop of an HxWx3 uint8 image (channel order kept) for one BlazeFace box."""
    h, w = image.shape[:2]
    left, top, right, bottom = publisher_crop_rect(w, h, box_map.apply(blazeface_box), scale)
    return resize_bilinear(image[top : bottom + 1, left : right + 1], size, size)
