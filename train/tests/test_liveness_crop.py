"""The anti-spoofing crop: the publisher's rectangle rule, OpenCV's bilinear resize, and the golden fixture."""

import hashlib
import json
from pathlib import Path

import numpy as np
from faceedge_train.liveness.crop import (
    BLAZEFACE_BOX_MAP,
    DetectorBoxMap,
    crop_for_network,
    publisher_crop_rect,
    resize_bilinear,
)
from faceedge_train.liveness.golden_crops import golden
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "liveness"


def test_golden_crops_are_reproduced_byte_for_byte():
    meta = json.loads((FIXTURES / "golden-crops.json").read_text())
    fresh = golden()
    assert meta["box_map"] == {
        "centre_x": fresh["box_map"].centre_x,
        "centre_y": fresh["box_map"].centre_y,
        "width": fresh["box_map"].width,
        "height": fresh["box_map"].height,
    }
    for stored, case in zip(meta["cases"], fresh["cases"], strict=True):
        png = np.asarray(Image.open(FIXTURES / f"{stored['name']}.png").convert("RGB"))
        assert hashlib.sha256(png.tobytes()).hexdigest() == stored["rgb_sha256"]
        assert np.array_equal(case["crop"], png), stored["name"]
        assert case["bounds"] == stored["bounds"]


def test_crop_rectangle_fits_shrinks_and_shifts():
    # Fits: 2x a 100 px box centred at (300, 200) in a 640x480 image.
    assert publisher_crop_rect(640, 480, (250, 150, 100, 100), 2.0) == (200, 100, 400, 300)
    # Too large: the scale drops to (480 - 1) / 100 and the crop is shifted down to the top edge.
    left, top, right, bottom = publisher_crop_rect(640, 480, (250, 10, 100, 100), 8.0)
    assert (top, bottom) == (0, 479) and right - left == 479
    # Near the right edge: shifted left, the size kept.
    assert publisher_crop_rect(640, 480, (580, 200, 50, 50), 2.0) == (539, 175, 639, 275)


def test_bilinear_resize_follows_opencvs_pixel_centres():
    img = np.arange(16, dtype=np.uint8).reshape(4, 4, 1).repeat(3, axis=2) * 10
    assert np.array_equal(resize_bilinear(img, 4, 4), img)
    half = resize_bilinear(img, 2, 2)[..., 0]
    # Output pixel 0 samples source 0.5: the mean of a 2x2 block, no wider filter.
    assert half.tolist() == [[25, 45], [105, 125]]


def test_box_map_moves_and_scales_about_the_box_centre():
    m = DetectorBoxMap(centre_x=0.1, centre_y=-0.2, width=2.0, height=1.5)
    assert m.apply((100, 100, 50, 50)) == (80.0, 77.5, 100.0, 75.0)
    crop = crop_for_network(np.zeros((200, 300, 3), np.uint8), (100, 50, 60, 60), 2.7, m)
    assert crop.shape == (80, 80, 3) and crop.dtype == np.uint8


def test_the_shipped_manifest_records_this_crop():
    manifest = json.loads((FIXTURES.parents[2] / "models" / "liveness" / "manifest.json").read_text())
    m = manifest["crop"]["box_map"]
    assert (m["centre_x"], m["centre_y"], m["width"], m["height"]) == (
        BLAZEFACE_BOX_MAP.centre_x,
        BLAZEFACE_BOX_MAP.centre_y,
        BLAZEFACE_BOX_MAP.width,
        BLAZEFACE_BOX_MAP.height,
    )
    assert manifest["crop"]["size"] == 80 and manifest["crop"]["kind"] == "detector-box"
