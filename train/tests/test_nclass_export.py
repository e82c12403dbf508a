"""A three-class model exported and checked in the real TFLite runtime: one logit per class out of the
FULLY_CONNECTED layer, the temperature and unsure floor fitted on the int8 file's val logits, self-test cases
the runtime reproduces, and verify_export's numbers. Skips only when the runtime is unavailable."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from export_fixtures import checkpoint_of, smooth_images, spread_model
from faceedge_train import verify_export
from faceedge_train.checkpoint import save_checkpoint
from faceedge_train.export import export
from faceedge_train.manifest import manifest_problems
from faceedge_train.metrics import softmax
from faceedge_train.model import FaceClassifier, ModelConfig
from faceedge_train.preprocess import float_input_nhwc, int8_input_nhwc, to_model_input
from faceedge_train.tflite.runtime import run_tflite, unavailable_reason
from PIL import Image

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"TFLite runtime unavailable: {REASON}")
LABELS = ["0-12", "13-19", "20+"]


def three_class_model(seed: int = 4) -> FaceClassifier:
    """spread_model's well-conditioned features, read out along their three main directions (std 3)."""
    two = spread_model(seed=seed)
    model = FaceClassifier(ModelConfig(width=0.35, classes=3))
    state = {k: v for k, v in two.state_dict().items() if not k.startswith("classifier.")}
    model.load_state_dict({**model.state_dict(), **state})
    x = to_model_input(torch.from_numpy(smooth_images(96, seed=seed + 1)))
    with torch.no_grad():
        feats = model.eval().features(x).mean(dim=(2, 3))
        directions = torch.linalg.svd(feats - feats.mean(0), full_matrices=False).Vh[:3]
        logits = (feats - feats.mean(0)) @ directions.T
        model.classifier.weight.copy_(directions * (3.0 / logits.std(0))[:, None])
        model.classifier.bias.copy_(-(feats.mean(0) @ model.classifier.weight.T))
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("three")
    model = three_class_model()
    images = smooth_images(240, seed=31)
    with torch.no_grad():
        logits = model(to_model_input(torch.from_numpy(images))).numpy()
    truth = logits.argmax(axis=1)
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(len(truth)) < 0.15, rng.integers(0, 3, len(truth)), truth)  # some wrong labels
    for k, (image, label) in enumerate(zip(images, noisy, strict=True)):
        folder = tmp / "crops" / ("train" if k < 160 else "val") / LABELS[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{k:04d}.png")
    checkpoint = dict(checkpoint_of(model), labels=LABELS, ordered_labels=True, history=[])
    save_checkpoint(tmp / "best.pt", checkpoint)
    manifest = export(
        checkpoint,
        tmp / "crops",
        tmp / "out",
        name="bands",
        calibration_count=100,
        log=lambda *_: None,
        checkpoint_path=tmp / "best.pt",
    )
    return model, tmp, manifest


def test_the_manifest_describes_one_logit_per_class_with_a_fitted_temperature(exported):
    _, tmp, manifest = exported
    assert manifest_problems(manifest) == []
    assert manifest["task"] == "classification" and manifest["labels"] == LABELS and manifest["ordered"] is True
    assert manifest["output"] == {"kind": "logits", "activation": "softmax", "shape": [1, 3]}
    assert "threshold" not in manifest and manifest["model_config"]["classes"] == 3
    assert manifest["files"]["int8"]["output"]["name"] == "logits"
    assert manifest["files"]["int8"]["output"]["shape"] == [1, 3]
    confidence = manifest["confidence_calibration"]
    assert confidence["logits_from"] == "tflite-runtime" and confidence["n"] == 80
    assert manifest["temperature"] == confidence["temperature"] > 0
    assert 0 <= manifest["unsure_floor"] == confidence["unsure_floor"] < 1
    assert confidence["nll"]["after"] <= confidence["nll"]["before"]


def test_the_float_file_gives_pytorchs_logits(exported):
    model, tmp, _ = exported
    images = smooth_images(16, seed=77)
    with torch.no_grad():
        ref = model(to_model_input(torch.from_numpy(images))).numpy()
    got, report = run_tflite(tmp / "out" / "bands_float32.tflite", float_input_nhwc(images))
    assert report["output"]["shape"] == [1, 3] and ref.std() > 1
    assert np.abs(got - ref).max() < 1e-4


def test_the_int8_file_reproduces_its_self_test_and_agrees_with_float(exported):
    _, tmp, manifest = exported
    cases = manifest["selftest"]
    assert [c["label"] for c in cases] == LABELS and all(c["int8_expected_from"] == "tflite-runtime" for c in cases)
    crops = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(c["png_base64"])))) for c in cases])
    raw, report = run_tflite(tmp / "out" / "bands_int8.tflite", int8_input_nhwc(crops))
    assert raw.tolist() == [c["expected_int8"] for c in cases]
    q = report["output"]["quantization"]
    for case, row in zip(cases, raw, strict=True):
        dequantized = (row.astype(np.float64) - q["zeroPoint"]) * q["scale"]
        np.testing.assert_allclose(dequantized, case["expected_int8_logits"], rtol=1e-6)
        probabilities = softmax(np.array([case["expected_logits"]]), manifest["temperature"])[0]
        np.testing.assert_allclose(probabilities, case["expected_probabilities"], rtol=1e-9)
        assert case["expected_probability"] == pytest.approx(max(case["expected_probabilities"]))
        ranked = sorted(case["expected_logits"])
        if ranked[-1] - ranked[-2] > 1.0:  # a clear case (the export prefers them): int8 names the same class
            assert int(np.argmax(dequantized)) == int(np.argmax(case["expected_logits"]))


def test_verify_export_scores_both_files_on_a_split(exported, capsys):
    _, tmp, _ = exported
    rc = verify_export.main(["--model-dir", str(tmp / "out"), "--data", str(tmp / "crops"), "--split", "val"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0, result
    assert result["n"] == 80 and result["float_max_abs_diff"] <= 1e-4 and result["int8_float_agreement"] >= 0.95
    assert result["float_accuracy"] == pytest.approx(result["float_metrics"]["accuracy"])
    assert 0 <= result["int8_metrics"]["off_by_more_than_one"] <= 1
