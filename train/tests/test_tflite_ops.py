"""Every op of the writer's vocabulary (faceedge_train.layers) in the real TFLite 2.9 runtime
(scripts/tflite-run.ts, XNNPACK and the builtin kernels) against its PyTorch semantics: the float32
file against `run_layers`, the int8 file against the integer emulation `simulate_values`.
Skips only when node / node_modules / the runner are missing."""

import numpy as np
import pytest
import torch
from faceedge_train.calibrate import calibrate
from faceedge_train.layers import Layer, run_layers
from faceedge_train.quantize import quantize_model, simulate_values
from faceedge_train.tflite.convert import build_graph
from faceedge_train.tflite.runtime import run_tflite, unavailable_reason

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"TFLite runtime unavailable: {REASON}")

H, W, C = 9, 10, 6  # odd and even sides: SAME padding puts the odd pixel after
RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def _same_draws_whichever_tests_run():
    global RNG
    RNG = np.random.default_rng(7)


def _conv(name, src, out_ch, in_ch, k=3, stride=1, **kw):
    return Layer(
        "conv",
        [src],
        name,
        RNG.normal(0, 0.4, (out_ch, k, k, in_ch)),
        RNG.normal(0, 0.2, out_ch),
        stride,
        **kw,
    )


def _inputs(n=6):
    """Inputs on the int8 input grid (multiples of 1/128 in [-1, 1)), NCHW, so int8 feeds them exactly."""
    return torch.from_numpy(RNG.integers(-128, 128, (n, C, H, W)) / 128.0).float()


def _to_file(t: torch.Tensor) -> np.ndarray:
    v = t.numpy()
    return v.transpose(0, 2, 3, 1) if v.ndim == 4 else v


def _check(tmp_path, name, layers, float_tol=1e-4, steps=1, fraction=0.05):
    x = _inputs()
    # float32 file against the PyTorch reference
    path = tmp_path / f"{name}_float.tflite"
    path.write_bytes(build_graph(layers, input_shape=[1, H, W, C]).serialize())
    want = _to_file(run_layers(layers, x, torch.float64)[layers[-1].output])
    got, report = run_tflite(path, _to_file(x).astype(np.float32))
    assert report["delegate"]["active"] == "xnnpack"
    got = got.reshape(want.shape)
    scale = max(1.0, float(np.abs(want).max()))
    assert np.abs(got - want).max() <= float_tol * scale, f"{name} float: {np.abs(got - want).max():.2e} off"
    # int8 file against the integer emulation, on both the XNNPACK and the builtin kernels
    # Calibrated on the test inputs too: a value outside the calibrated range would be clipped.
    q = quantize_model(layers, calibrate(layers, [x, _inputs(16)], "minmax"))
    path = tmp_path / f"{name}_int8.tflite"
    path.write_bytes(build_graph(layers, q, input_shape=[1, H, W, C]).serialize())
    out = layers[-1].output
    p = q.activations[out]
    want_q = np.round(_to_file(simulate_values(q, x)[out]) / p.scale[0]) + p.zero_point[0]
    xq = np.round(_to_file(x) * 128).astype(np.int8)
    for delegate in ("xnnpack", "cpu"):
        got, report = run_tflite(path, xq, delegate)
        assert report["output"]["dtype"] == "int8"
        diff = np.abs(got.reshape(want_q.shape).astype(int) - want_q)
        assert diff.max() <= steps, f"{name} int8 ({delegate}): {diff.max()} steps off"
        assert (diff > 0).mean() <= fraction, f"{name} int8 ({delegate}): {(diff > 0).mean():.1%} of values off"
    # and the emulation tracks the float model (a wrong scale or zero point would not)
    ref = _to_file(run_layers(layers, x, torch.float64)[out])
    emu = _to_file(simulate_values(q, x)[out])
    assert np.abs(emu - ref).max() <= 6 * p.scale[0] + 0.05 * np.abs(ref).max()


def test_conv_with_explicit_asymmetric_padding_and_relu(tmp_path):
    # (1, 1, 1, 1) at stride 2 differs from SAME (0, 1, 0, 1): written as PAD + VALID CONV_2D
    _check(tmp_path, "conv_pad", [_conv("c", "input", 8, C, stride=2, padding=(1, 1, 1, 1), activation="relu")])


def test_conv_same_valid_and_relu6(tmp_path):
    _check(
        tmp_path,
        "conv_same",
        [_conv("a", "input", 8, C, stride=2, relu6=True), _conv("b", "a", 5, 8, padding="valid")],
    )


def test_depthwise_with_explicit_padding(tmp_path):
    dw = Layer(
        "depthwise", ["input"], "d", RNG.normal(0, 0.4, (1, 3, 3, C)), RNG.normal(0, 0.2, C), 2, padding=(1, 1, 1, 1)
    )
    _check(tmp_path, "depthwise", [dw])


def test_prelu_with_per_channel_alpha(tmp_path):
    alpha = np.array([0.25, -0.1, 0.5, 0.0, 1.2, 0.05])
    _check(tmp_path, "prelu", [_conv("c", "input", C, C), Layer("prelu", ["c"], "p", alpha)])


def test_add_and_mul_of_a_map_and_a_broadcast_vector_and_of_constants(tmp_path):
    layers = [
        _conv("a", "input", C, C),
        Layer("mean", ["a"], "m"),
        Layer("logistic", ["m"], "gate"),
        Layer("mul", ["a", "gate"], "se"),  # squeeze-and-excitation: map * [1,1,1,C]
        Layer("add", ["se", "input"], "res"),
        Layer("mul", ["res"], "scaled", np.linspace(0.5, 2.0, C)),
        Layer("add", ["scaled"], "shifted", np.linspace(-1.0, 1.0, C)),
    ]
    _check(tmp_path, "elementwise", layers, steps=2, fraction=0.10)


def test_standalone_relu_relu6_and_pad_of_channels(tmp_path):
    layers = [
        _conv("a", "input", C, C),
        Layer("relu", ["a"], "r"),
        Layer("relu6", ["a"], "r6"),
        Layer("add", ["r", "r6"], "s"),
        Layer("pad", ["s"], "p", params={"pads": [[1, 0], [0, 2], [0, 3]]}),  # H, W and channels
    ]
    _check(tmp_path, "relu_pad", layers, steps=2)


def test_max_and_average_pooling(tmp_path):
    layers = [
        _conv("a", "input", C, C),
        Layer("max_pool", ["a"], "mp", stride=2, padding="same", params={"kernel": 3}),
        Layer("avg_pool", ["mp"], "ap", stride=2, padding="valid", params={"kernel": 2}),
    ]
    # AVERAGE_POOL_2D rounds its integer mean half away from zero, the emulation half to even
    _check(tmp_path, "pool", layers, fraction=0.25)


def test_flatten_dense_and_l2_normalization(tmp_path):
    layers = [
        _conv("a", "input", 4, C, stride=2),
        Layer("flatten", ["a"], "f"),  # NHWC order, as TensorFlow's Reshape
        Layer("dense", ["f"], "emb", RNG.normal(0, 0.2, (16, 5 * 5 * 4)), RNG.normal(0, 0.1, 16)),
        Layer("l2norm", ["emb"], "unit"),
    ]
    _check(tmp_path, "embedding", layers, steps=2, fraction=0.15)


def test_global_mean_dense_softmax(tmp_path):
    layers = [
        _conv("a", "input", 8, C, activation="relu"),
        Layer("mean", ["a"], "m"),
        Layer("dense", ["m"], "logits", RNG.normal(0, 2.0, (5, 8)), RNG.normal(0, 0.5, 5)),
        Layer("softmax", ["logits"], "prob"),
    ]
    _check(tmp_path, "softmax", layers, steps=2, fraction=0.2)
