"""The training side of the preprocessing contract (DESIGN convention 11), against the golden crops
in test/fixtures/golden that test/unit/golden-preprocess.test.ts checks on the runtime side.

The crops were made by the runtime's own detector and aligner; here they go through the training
data loader (PNG decoding + normalization) and the export's int8 input quantization, which must
produce exactly the values golden.json records: (pixel - 128) / 128 and pixel - 128."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from faceedge_train import data, preprocess, quantize

GOLDEN = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "golden"
SPEC = json.loads((GOLDEN / "golden.json").read_text())
CROPS = SPEC["crops"]


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    """All golden crops through the training loader: uint8 (N, 64, 64, 3) HWC."""
    return data.decode_files(GOLDEN, [(crop["file"], 0) for crop in CROPS])


def test_golden_set_has_three_crops_of_the_training_size():
    assert len(CROPS) == 3
    assert SPEC["alignment"]["size"] == data.IMAGE_SIZE


@pytest.mark.parametrize("index", range(len(CROPS)), ids=[c["name"] for c in CROPS])
def test_loader_decodes_the_same_rgb_bytes_as_the_runtime(pixels, index):
    crop = pixels[index]
    assert crop.shape == (data.IMAGE_SIZE, data.IMAGE_SIZE, 3) and crop.dtype == np.uint8
    assert hashlib.sha256(np.ascontiguousarray(crop).tobytes()).hexdigest() == CROPS[index]["rgb_sha256"]
    assert int(crop.astype(np.int64).sum()) == CROPS[index]["pixel_sum"]


@pytest.mark.parametrize("index", range(len(CROPS)), ids=[c["name"] for c in CROPS])
def test_training_normalization_is_the_float_contract(pixels, index):
    golden = CROPS[index]["float_input"]
    x = preprocess.to_model_input(torch.from_numpy(pixels))  # (N, 3, 64, 64) NCHW
    assert x.dtype == torch.float32 and tuple(x.shape[1:]) == (3, data.IMAGE_SIZE, data.IMAGE_SIZE)
    # Values are k/128: exact in float32, so the float64 sum is exact too.
    assert float(x[index].double().sum()) == golden["sum"]
    for s in golden["samples"]:
        assert float(x[index, s["c"], s["y"], s["x"]]) == s["value"], s


@pytest.mark.parametrize("index", range(len(CROPS)), ids=[c["name"] for c in CROPS])
def test_export_int8_input_is_the_int8_contract(pixels, index):
    golden = CROPS[index]["int8_input"]
    q = preprocess.int8_input_nhwc(pixels)  # what the export feeds the int8 model in its runtime check
    assert q.dtype == np.int8
    assert int(q[index].astype(np.int64).sum()) == golden["sum"]
    for s in golden["samples"]:
        assert int(q[index, s["y"], s["x"], s["c"]]) == s["value"], s


def test_int8_input_quantization_matches_the_float_contract(pixels):
    # The int8 graph's input tensor is quantized with INPUT_QUANT: real = scale * (q - zero_point).
    assert quantize.INPUT_QUANT.scale == [1.0 / 128.0] and quantize.INPUT_QUANT.zero_point == [0]
    real = preprocess.to_model_input(torch.from_numpy(pixels)).permute(0, 2, 3, 1).numpy()
    q = preprocess.int8_input_nhwc(pixels).astype(np.float32)
    scale, zero = quantize.INPUT_QUANT.scale[0], quantize.INPUT_QUANT.zero_point[0]
    np.testing.assert_array_equal(scale * (q - zero), real)
    np.testing.assert_array_equal(preprocess.float_input_nhwc(pixels), real)
