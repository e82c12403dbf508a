"""BN folding, int8 quantization parameters, the written graphs and the export CLI (no TFLite runtime needed)."""

import base64
import hashlib
import io
import json

import numpy as np
import pytest
import torch
from export_fixtures import checkpoint_of, smooth_images, spread_model, write_crops
from faceedge_train import export as export_mod
from faceedge_train.calibrate import calibrate, mse_range, quantization_mse
from faceedge_train.fold import fold_model, run_layers
from faceedge_train.quantize import (
    INPUT_QUANT,
    LOGISTIC_QUANT,
    activation_params,
    quantize_model,
    quantize_weights,
    simulate_int8,
)
from faceedge_train.tflite import schema as S
from faceedge_train.tflite.convert import build_graph
from faceedge_train.tflite.reader import read_model
from PIL import Image


def _x(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images).permute(0, 3, 1, 2).float() - 128) / 128


@pytest.fixture(scope="module")
def model():
    return spread_model(seed=3)


@pytest.fixture(scope="module")
def quantized(model):
    layers = fold_model(model)
    images = smooth_images(48, seed=7)
    return layers, quantize_model(layers, calibrate(layers, [_x(images[:24]), _x(images[24:])]))


def test_bn_folding_equals_the_unfolded_model(model):
    x = _x(smooth_images(8, seed=1))
    layers = fold_model(model)
    with torch.no_grad():
        ref64 = model.double()(x.double())
        model.float()
        folded64 = run_layers(layers, x, torch.float64)["logit"].squeeze(1)
        ref32 = model(x)
        folded32 = run_layers(layers, x)["logit"].squeeze(1)
    assert ref64.abs().max() > 0.5  # a model whose output varies, so the comparison means something
    assert (folded64 - ref64).abs().max() < 1e-5  # the algebra, free of float32 rounding
    # In float32 both carry ~1e-7 relative rounding per layer; on probabilities that stays < 1e-5.
    assert (torch.sigmoid(folded32) - torch.sigmoid(ref32)).abs().max() < 1e-5
    ops = [layer.op for layer in layers]
    assert ops[-3:] == ["mean", "dense", "logistic"]
    assert ops.count("add") == sum(1 for b in model.features if getattr(b, "use_residual", False))


def test_weights_are_per_channel_symmetric_int8():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (5, 3, 3, 4)) * np.array([1e-3, 0.1, 1.0, 10.0, 0.0])[:, None, None, None]
    q, scale = quantize_weights(w, axis=0)
    assert q.dtype == np.int8 and q.min() >= -127
    assert scale[4] > 0 and np.all(q[4] == 0)  # an all-zero channel stays exact
    for c in range(4):
        assert np.abs(q[c]).max() == 127
        assert scale[c] == pytest.approx(np.abs(w[c]).max() / 127, rel=1e-6)
        assert np.abs(q[c] * scale[c] - w[c]).max() <= scale[c] / 2 + 1e-12
    qd, sd = quantize_weights(w.transpose(1, 2, 3, 0), axis=3)  # depthwise layout: channels last
    np.testing.assert_array_equal(qd, q.transpose(1, 2, 3, 0))


def test_activation_params_always_represent_zero_exactly():
    for lo, hi in [(0.0, 6.0), (-3.0, 1.0), (0.5, 2.0), (-2.0, -1.0), (0.0, 0.0)]:
        p = activation_params(lo, hi)
        s, z = p.scale[0], p.zero_point[0]
        assert -128 <= z <= 127 and s > 0
        assert (-128 - z) * s <= min(lo, 0) + s and (127 - z) * s >= max(hi, 0) - s
        assert np.float32(s) == s  # stored exactly as the float32 the file holds


def test_mse_calibration_clips_rare_outliers_but_keeps_dense_ranges():
    rng = np.random.default_rng(0)
    heavy = np.concatenate([rng.normal(0, 1, 20000), [40.0, -40.0]])  # two outliers 40 sigma out
    lo, hi = mse_range(heavy, -40.0, 40.0)
    assert 5 < hi < 40 and -40 < lo < -5
    assert quantization_mse(heavy, lo, hi) < quantization_mse(heavy, -40.0, 40.0)
    uniform = rng.uniform(0, 6, 20000)  # every part of the range is used: nothing to gain by clipping
    assert mse_range(uniform, 0.0, 6.0)[1] > 5.7


def test_calibration_methods(quantized, model):
    layers, _ = quantized
    batches = [_x(smooth_images(16, seed=8))]
    minmax = calibrate(layers, batches, "minmax")
    mse = calibrate(layers, batches, "mse")
    with torch.no_grad():
        values = run_layers(layers, batches[0])
    for layer in layers:
        lo, hi = minmax[layer.output]
        assert (lo, hi) == (float(values[layer.output].min()), float(values[layer.output].max()))
        m_lo, m_hi = mse[layer.output]
        if layer.op in ("mean", "dense", "logistic"):
            assert (m_lo, m_hi) == (lo, hi)  # the head keeps its full range
        else:
            a = m_hi / hi  # one clip factor for both ends
            assert 0.3 - 1e-9 <= a <= 1 + 1e-9 and m_lo == pytest.approx(a * lo, abs=1e-12)
    assert any(mse[k] != minmax[k] for k in mse)
    with pytest.raises(ValueError):
        calibrate(layers, batches, "percentile")


def test_int8_graph_parameters_follow_the_quantization_spec(quantized):
    layers, q = quantized
    m = read_model(build_graph(layers, q).serialize())
    sg = m["subgraphs"][0]
    tensors, ops = sg["tensors"], sg["operators"]
    inp, out = tensors[sg["inputs"][0]], tensors[sg["outputs"][0]]
    assert inp["type"] == out["type"] == S.TensorType.INT8
    assert (inp["quantization"]["scale"], inp["quantization"]["zero_point"]) == (INPUT_QUANT.scale, [0])
    assert (out["quantization"]["scale"], out["quantization"]["zero_point"]) == (LOGISTIC_QUANT.scale, [-128])
    versions = {c["builtin_code"]: c["version"] for c in m["operator_codes"]}
    assert versions == {
        S.BuiltinOperator.CONV_2D: 3,
        S.BuiltinOperator.DEPTHWISE_CONV_2D: 3,
        S.BuiltinOperator.ADD: 2,
        S.BuiltinOperator.MEAN: 2,
        S.BuiltinOperator.FULLY_CONNECTED: 4,
        S.BuiltinOperator.LOGISTIC: 2,
    }
    seen = set()
    for op in ops:
        code = op["builtin_code"]
        seen.add(code)
        if code not in (
            S.BuiltinOperator.CONV_2D,
            S.BuiltinOperator.DEPTHWISE_CONV_2D,
            S.BuiltinOperator.FULLY_CONNECTED,
        ):
            continue
        x, w, b = (tensors[i] for i in op["inputs"])
        wq, bq = w["quantization"], b["quantization"]
        axis = 3 if code == S.BuiltinOperator.DEPTHWISE_CONV_2D else 0
        assert w["type"] == S.TensorType.INT8 and b["type"] == S.TensorType.INT32
        assert wq["quantized_dimension"] == axis and len(wq["scale"]) == w["shape"][axis]
        assert set(wq["zero_point"]) == {0} and set(bq["zero_point"]) == {0}
        assert w["data"].min() >= -127
        per_channel_max = np.abs(np.moveaxis(w["data"].astype(int), axis, 0).reshape(w["shape"][axis], -1)).max(1)
        assert np.all(per_channel_max == 127)
        expected_bias_scale = np.float32(x["quantization"]["scale"][0]) * np.asarray(wq["scale"], np.float32)
        np.testing.assert_array_equal(np.asarray(bq["scale"], np.float32), expected_bias_scale)
        if code != S.BuiltinOperator.FULLY_CONNECTED:
            assert op["options"]["padding"] == S.Padding.SAME
    assert seen == set(versions)
    for t in tensors:
        if t["type"] == S.TensorType.INT8 and t["data"] is None:  # activations: zero representable
            z = t["quantization"]["zero_point"][0]
            assert -128 <= z <= 127


def test_float_graph_holds_the_folded_weights(quantized):
    layers, _ = quantized
    m = read_model(build_graph(layers).serialize())
    tensors = {t["name"]: t for t in m["subgraphs"][0]["tensors"]}
    for layer in layers:
        if layer.weight is not None:
            np.testing.assert_array_equal(tensors[f"{layer.output}/weights"]["data"], layer.weight.astype(np.float32))
            np.testing.assert_array_equal(tensors[f"{layer.output}/bias"]["data"], layer.bias.astype(np.float32))
    first = m["subgraphs"][0]["operators"][0]
    assert first["options"]["stride_w"] == 2 and first["options"]["fused_activation_function"] == S.Activation.RELU6


def test_int8_emulation_tracks_the_float_model(model, quantized):
    layers, q = quantized
    x = _x(smooth_images(32, seed=9))
    with torch.no_grad():
        prob = torch.sigmoid(model(x)).numpy()
    _, p8 = simulate_int8(q, x)
    assert prob.std() > 0.2
    assert np.abs(p8 - prob).mean() < 0.05
    confident = np.abs(prob - 0.5) > 0.3
    assert confident.sum() >= 8 and np.all((p8[confident] >= 0.5) == (prob[confident] >= 0.5))


def test_calibration_draw_is_seeded_and_works_without_split_folders(tmp_path):
    write_crops(tmp_path / "flat", per_class=3, splits=())
    files, split = export_mod.calibration_files(tmp_path / "flat")
    assert split == "." and len(files) == 6 and {label for _, label in files} == {0, 1}
    many = [(f"f{i}", i % 2) for i in range(100)]
    assert export_mod.draw(many, 10, seed=1) == export_mod.draw(many, 10, seed=1)
    assert export_mod.draw(many, 10, seed=1) != export_mod.draw(many, 10, seed=2)


def test_export_cli_writes_both_models_and_the_manifest(tmp_path):
    crops = write_crops(tmp_path / "crops", per_class=6)
    ckpt = tmp_path / "ckpt.pt"
    torch.save(checkpoint_of(spread_model(seed=5)), ckpt)
    out = tmp_path / "out"
    rc = export_mod.main(
        [
            "--checkpoint",
            str(ckpt),
            "--calibration",
            str(crops),
            "--out",
            str(out),
            "--name",
            "tiny",
            "--calibration-count",
            "8",
            "--no-runtime-check",
        ]
    )
    assert rc == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["id"] == "tiny" and manifest["labels"] == ["female", "male"]
    assert manifest["input"] == {
        "width": 64,
        "height": 64,
        "channels": 3,
        "layout": "NHWC",
        "color": "RGB",
        "normalization": {"mean": 128, "std": 128},
    }
    assert manifest["metrics"] == {"test": {"accuracy": 0.5}} and manifest["dataset"] == {"path": "synthetic"}
    assert manifest["calibration"]["count"] == 8 and manifest["calibration"]["split"] == "train"
    assert manifest["parameter_count"] > 100_000
    assert manifest["source_checkpoint"] == {
        "path": str(ckpt.resolve()),
        "sha256": hashlib.sha256(ckpt.read_bytes()).hexdigest(),
    }
    for dtype in ("float32", "int8"):
        entry = manifest["files"][dtype]
        data = (out / entry["path"]).read_bytes()
        assert entry["path"] == f"tiny_{dtype}.tflite" and entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert data[4:8] == b"TFL3"
        read_model(data)
    assert manifest["files"]["int8"]["input"]["quantization"] == {"scale": 1 / 128, "zero_point": 0}
    assert manifest["files"]["int8"]["output"]["quantization"] == {"scale": 1 / 256, "zero_point": -128}
    assert manifest["files"]["float32"]["input"]["quantization"] is None
    assert len(manifest["selftest"]) == 4
    assert [s["label"] for s in manifest["selftest"]] == ["female", "female", "male", "male"]
    for s in manifest["selftest"]:
        image = Image.open(io.BytesIO(base64.b64decode(s["png_base64"])))
        assert image.size == (64, 64) and image.mode == "RGB"
        assert s["source"].startswith("train/") and 0 <= s["expected_probability"] <= 1
        assert -128 <= s["expected_int8"] <= 127 and s["int8_expected_from"] == "emulation"


def test_the_manifest_carries_the_trained_crop_geometry_and_refuses_calibration_crops_of_another(tmp_path):
    trained = {"size": 64, "sideInEyeDistances": 2.2, "centreBelowEyes": 0.3, "padding": "mirror"}
    checkpoint = checkpoint_of(spread_model(seed=5))
    checkpoint["dataset"] = {"path": "synthetic", "alignment": trained}
    crops = write_crops(tmp_path / "crops", per_class=4, splits=("train",))

    def run(calibration_alignment):
        (crops / "manifest.json").write_text(json.dumps({"alignment": calibration_alignment}))
        return export_mod.export(
            checkpoint, crops, tmp_path / "out", calibration_count=8, runtime_check=False, log=lambda *_: None
        )

    assert run(trained)["alignment"] == trained
    assert run(None)["alignment"] == trained  # calibration crops that record nothing: the checkpoint's
    with pytest.raises(export_mod.ExportError, match=r"trained on crops aligned as .*2\.2.*calibration crops .*2\.5"):
        run({**trained, "sideInEyeDistances": 2.5})
    # A checkpoint from before the record: the calibration crops' geometry, as before.
    del checkpoint["dataset"]["alignment"]
    assert run({**trained, "sideInEyeDistances": 2.5})["alignment"]["sideInEyeDistances"] == 2.5
