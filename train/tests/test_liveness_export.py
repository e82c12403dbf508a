"""MiniFASNet as the writer's layers and as float32 TFLite: both reproduce PyTorch; the export CLI's manifest."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from faceedge_train.layers import run_layers
from faceedge_train.liveness.export import export
from faceedge_train.liveness.minifasnet import load_minifasnet
from faceedge_train.liveness.minifasnet_layers import LOGITS, minifasnet_layers
from faceedge_train.tflite.convert import build_graph
from faceedge_train.tflite.runtime import run_tflite, unavailable_reason

# The publisher's checkpoints are not in the repository (models/liveness/README.md, "Rebuild"): git-ignored data/.
SOURCE = Path(__file__).resolve().parents[2] / "data" / "liveness" / "minifasnet"
pytestmark = [
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
    pytest.mark.skipif(
        not SOURCE.is_dir(),
        reason="MiniFASNet checkpoints absent: put the publisher's .pth files into data/liveness/minifasnet "
        "(models/liveness/README.md, Rebuild)",
    ),
]


@pytest.mark.parametrize("name", ["2.7_80x80_MiniFASNetV2.pth", "4_0_0_80x80_MiniFASNetV1SE.pth"])
def test_float_graph_runs_like_pytorch(tmp_path, name):
    model = load_minifasnet(SOURCE / name).use_rgb_input()
    path = tmp_path / "m.tflite"
    path.write_bytes(build_graph(minifasnet_layers(model), input_size=80).serialize())
    x = np.random.default_rng(1).uniform(0, 255, (4, 80, 80, 3)).astype(np.float32)
    got, report = run_tflite(path, x)
    with torch.no_grad():
        want = model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    assert got.shape == (4, 3)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert report["delegate"]["active"] == "xnnpack"  # every op delegated, none left to the slow kernels


def test_a_bgr_model_is_refused():
    with pytest.raises(ValueError, match="RGB"):
        minifasnet_layers(load_minifasnet(SOURCE / "2.7_80x80_MiniFASNetV2.pth"))


@pytest.mark.parametrize("name", ["2.7_80x80_MiniFASNetV2.pth", "4_0_0_80x80_MiniFASNetV1SE.pth"])
def test_layer_list_means_the_network(name):
    model = load_minifasnet(SOURCE / name).use_rgb_input()
    x = torch.from_numpy(np.random.default_rng(2).uniform(0, 255, (3, 3, 80, 80)))
    with torch.no_grad():
        want = model(x.float()).double().numpy()
    got = run_layers(minifasnet_layers(model), x, torch.float64)[LOGITS].numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_export_writes_a_verified_manifest(tmp_path):
    point = {"chosen_on": "test"}
    m = export(SOURCE / "2.7_80x80_MiniFASNetV2.pth", 2.7, 0.5, point, tmp_path, "t-v2")
    written = json.loads((tmp_path / "manifest.json").read_text())
    assert written == m
    data = (tmp_path / "t-v2_float32.tflite").read_bytes()
    assert m["files"]["float32"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert m["crop"]["scale"] == 2.7 and m["live_index"] == 1 and m["operating_point"] == point
    assert len(m["selftest"]) == 3 and m["verification"]["max_abs_logit_difference_vs_pytorch"] < 1e-3


def test_export_refuses_weights_that_are_not_the_published_file(tmp_path):
    copy = tmp_path / "2.7_80x80_MiniFASNetV2.pth"
    shutil.copy(SOURCE / "4_0_0_80x80_MiniFASNetV1SE.pth", copy)
    with pytest.raises(ValueError, match="not the published"):
        export(copy, 2.7, 0.5, {}, tmp_path / "out", "x")
