"""The exported files in the real TFLite 2.9 runtime (scripts/tflite-run.ts: faceedge's own binding,
XNNPACK, 1 thread) against PyTorch. Skips only when node / node_modules / the runner are missing."""

import numpy as np
import pytest
import torch
from export_fixtures import checkpoint_of, smooth_images, spread_model, write_crops
from faceedge_train.calibrate import calibrate
from faceedge_train.export import export
from faceedge_train.fold import fold_model
from faceedge_train.quantize import quantize_model, simulate_values
from faceedge_train.tflite.convert import build_graph
from faceedge_train.tflite.runtime import run_tflite, unavailable_reason

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"TFLite runtime unavailable: {REASON}")


def _x(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images).permute(0, 3, 1, 2).float() - 128) / 128


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runtime")
    model = spread_model(seed=11)
    manifest = export(
        checkpoint_of(model),
        write_crops(tmp / "crops", per_class=24),
        tmp / "out",
        name="rt",
        calibration_count=48,
        log=lambda *_: None,
    )  # runs the export's own runtime check too
    return model, tmp / "out", manifest


def test_export_checked_itself_in_the_runtime(exported):
    # export() raises unless the float file is within 1e-4 of PyTorch and the int8 file within a
    # few steps of the emulation on the self-test crops; their int8 values then come from the runtime.
    _, _, manifest = exported
    assert all(s["int8_expected_from"] == "tflite-runtime" for s in manifest["selftest"])


def test_float_model_matches_pytorch(exported):
    model, out, _ = exported
    images = smooth_images(16, seed=21)
    with torch.no_grad():
        ref = torch.sigmoid(model(_x(images))).numpy()
    got, report = run_tflite(out / "rt_float32.tflite", ((images.astype(np.float32) - 128) / 128))
    assert report["delegate"]["active"] == "xnnpack"
    assert report["input"]["shape"] == [1, 64, 64, 3] and report["output"]["shape"] == [1, 1]
    assert ref.std() > 0.2
    assert np.abs(got.reshape(-1) - ref).max() < 1e-4


@pytest.mark.parametrize("delegate", ["xnnpack", "cpu"])
def test_int8_model_agrees_with_the_float_model(exported, delegate):
    model, out, _ = exported
    images = smooth_images(16, seed=21)
    with torch.no_grad():
        ref = torch.sigmoid(model(_x(images))).numpy()
    got, report = run_tflite(out / "rt_int8.tflite", (images.astype(np.int16) - 128).astype(np.int8), delegate)
    assert report["input"]["dtype"] == "int8" and report["input"]["quantization"] == {"scale": 1 / 128, "zeroPoint": 0}
    assert report["output"]["quantization"] == {"scale": 1 / 256, "zeroPoint": -128}
    prob = (got.reshape(-1).astype(int) + 128) / 256
    # A random network is far noisier under int8 than a trained one (mean |int8 - float| about
    # 0.035 for this one over 300 inputs, against 0.0036 for the trained gender model), so class
    # agreement is asked where the float model is not close to the threshold.
    confident = np.abs(ref - 0.5) > 0.2
    assert confident.sum() >= 8
    assert np.all((prob[confident] >= 0.5) == (ref[confident] >= 0.5))
    assert np.median(np.abs(prob - ref)) < 0.06


def _segments(layers):
    """Graph slices to check on their own: single layers of each kind, a whole residual block
    (ADD) and the head (MEAN, FULLY_CONNECTED, LOGISTIC).

    Returns {name: (layers, allowed steps, allowed fraction of values off)}. One layer may round
    differently from the emulation by one step on a few values (the kernels' fixed-point
    multipliers); in a chain those values move the next layer's inputs, so more values can be off.
    A wrong scale, padding or activation would put most values off by many steps."""
    by_name = {layer.output: layer for layer in layers}
    residual = next(layer.output.rsplit(".", 1)[0] for layer in layers if layer.op == "add")
    return {
        "stem conv s2": ([by_name["features.0"]], 1, 0.02),
        "depthwise": ([by_name["features.1.layers.0"]], 1, 0.02),
        "projection conv": ([by_name["features.1.layers.1"]], 1, 0.02),
        "depthwise s2": ([by_name["features.2.layers.1"]], 1, 0.02),
        "residual block": ([layer for layer in layers if layer.output.startswith(residual + ".")], 2, 0.10),
        "head": (layers[-3:], 2, 0.34),
    }


def test_late_stride_1_keeps_a_4x4_map_and_exports_exactly(tmp_path):
    model = spread_model(seed=13, late_stride=1)
    images = smooth_images(16, seed=22)
    with torch.no_grad():
        assert model.features(_x(images)).shape[-2:] == (4, 4)
        ref = torch.sigmoid(model(_x(images))).numpy()
    manifest = export(
        checkpoint_of(model),
        write_crops(tmp_path / "crops", per_class=16),
        tmp_path / "out",
        name="late",
        calibration_count=32,
        log=lambda *_: None,
    )
    assert manifest["model_config"]["late_stride"] == 1
    got, _ = run_tflite(tmp_path / "out" / "late_float32.tflite", ((images.astype(np.float32) - 128) / 128))
    assert np.abs(got.reshape(-1) - ref).max() < 1e-4


def test_int8_graph_slices_match_the_integer_emulation(tmp_path):
    """Slice by slice, fed the emulation's own int8 input, the runtime must give the emulation's
    int8 output to rounding: this pins the graph's int8 semantics (per-channel scales,
    bias scales, fused ReLU6, SAME padding, ADD/MEAN/FC/LOGISTIC requantization)."""
    model = spread_model(seed=2)
    layers = fold_model(model)
    cal = smooth_images(32, seed=3)
    q = quantize_model(layers, calibrate(layers, [_x(cal)]))
    images = smooth_images(6, seed=4)
    values = simulate_values(q, _x(images))
    segments = _segments(layers)
    assert [layer.op for layer in segments["residual block"][0]][-1] == "add"
    for key, (seg, allowed, fraction) in segments.items():
        src, dst = seg[0].inputs[0], seg[-1].output
        x = values[src].numpy().transpose(0, 2, 3, 1)
        pin, pout = q.activations[src], q.activations[dst]
        xq = (np.round(x / pin.scale[0]) + pin.zero_point[0]).astype(np.int8)
        path = tmp_path / f"{key}.tflite"
        path.write_bytes(build_graph(seg, q, input_name=src, input_shape=[1, *x.shape[1:]]).serialize())
        want = values[dst].numpy()
        want = want.transpose(0, 2, 3, 1) if want.ndim == 4 else want
        want_q = np.round(want / pout.scale[0]) + pout.zero_point[0]
        for delegate in ("xnnpack", "cpu"):
            got, _ = run_tflite(path, xq, delegate)
            diff = np.abs(got.reshape(want_q.shape).astype(int) - want_q)
            assert diff.max() <= allowed, f"{key} ({delegate}): {diff.max()} steps off"
            assert (diff > 0).mean() <= fraction, f"{key} ({delegate}): {(diff > 0).mean():.1%} of values off"


def test_verify_export_reports_on_a_whole_split(exported, tmp_path, capsys):
    import json

    from faceedge_train import verify_export

    model, out, manifest = exported
    ckpt = tmp_path / "ckpt.pt"
    torch.save(checkpoint_of(model), ckpt)
    crops = write_crops(tmp_path / "crops", per_class=10, seed=5)
    assert (
        verify_export.main(["--model-dir", str(out), "--data", str(crops), "--checkpoint", str(ckpt), "--split", "val"])
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 20 and result["split"] == "val"
    assert result["float_max_abs_diff"] < 1e-4
    assert result["float_accuracy"] == pytest.approx(result["pytorch_accuracy"], abs=0.05)
    assert 0.5 <= result["int8_float_agreement"] <= 1.0
    assert result["int8_disagreements"] == round((1 - result["int8_float_agreement"]) * 20)
    assert result["delegate"] == {"float32": "xnnpack", "int8": "xnnpack"}
