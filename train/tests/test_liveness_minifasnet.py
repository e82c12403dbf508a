"""MiniFASNet rebuilt from the published checkpoints gives the publisher's own code's logits (recorded once)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from faceedge_train.liveness.minifasnet import LIVE_CLASS, load_minifasnet
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
# The publisher's checkpoints are not in the repository (models/liveness/README.md, "Rebuild"): git-ignored data/.
SOURCE = ROOT / "data" / "liveness" / "minifasnet"
pytestmark = pytest.mark.skipif(
    not SOURCE.is_dir(),
    reason="MiniFASNet checkpoints absent: put the publisher's .pth files into data/liveness/minifasnet "
    "(models/liveness/README.md, Rebuild)",
)
FIXTURES = ROOT / "test" / "fixtures" / "liveness"
REFERENCE = json.loads((FIXTURES / "minifasnet-reference.json").read_text())["models"]


def _bgr(crop_name: str) -> torch.Tensor:
    rgb = np.asarray(Image.open(FIXTURES / crop_name).convert("RGB"))
    return torch.from_numpy(rgb[..., ::-1].copy()).permute(2, 0, 1)[None].float()


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_logits_match_the_publishers_code(name):
    ref = REFERENCE[name]
    model = load_minifasnet(SOURCE / name)
    noise = torch.from_numpy(
        np.random.default_rng(ref["noise_seed"]).uniform(0, 255, (2, 3, 80, 80)).astype(np.float32)
    )
    with torch.no_grad():
        np.testing.assert_allclose(model(_bgr(ref["crop"]))[0].numpy(), ref["crop_logits"], atol=1e-4)
        np.testing.assert_allclose(model(noise).numpy(), ref["noise_logits"], atol=1e-4)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_rgb_input_is_the_same_model_on_swapped_channels(name):
    bgr_model = load_minifasnet(SOURCE / name)
    rgb_model = load_minifasnet(SOURCE / name).use_rgb_input().use_rgb_input()  # idempotent
    x = _bgr(REFERENCE[name]["crop"])
    with torch.no_grad():
        np.testing.assert_allclose(rgb_model(x.flip(1)).numpy(), bgr_model(x).numpy(), atol=1e-4)
        p = rgb_model.live_probability(x.flip(1))
    assert p.shape == (1,) and 0 <= float(p) <= 1
    assert np.isclose(float(p), torch.softmax(bgr_model(x), 1)[0, LIVE_CLASS].item(), atol=1e-6)


def test_squeeze_excitation_only_where_the_checkpoint_has_it():
    v2 = load_minifasnet(SOURCE / "2.7_80x80_MiniFASNetV2.pth")
    v1se = load_minifasnet(SOURCE / "4_0_0_80x80_MiniFASNetV1SE.pth")
    assert not any(name.endswith("se_module") for name, _ in v2.named_modules())
    se = [name for name, m in v1se.named_modules() if name.endswith("se_module") and m is not None]
    assert se == ["conv_3.model.3.se_module", "conv_4.model.5.se_module", "conv_5.model.1.se_module"]
    assert v2.features(torch.zeros(1, 3, 80, 80)).shape == (1, 512, 5, 5)


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    state = torch.load(SOURCE / "2.7_80x80_MiniFASNetV2.pth", map_location="cpu")
    del state["module.prob.weight"]
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(ValueError, match="not a MiniFASNet checkpoint"):
        load_minifasnet(tmp_path / "cut.pth")
    state = torch.load(SOURCE / "2.7_80x80_MiniFASNetV2.pth", map_location="cpu")
    state["module.extra.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(ValueError, match="unexpected"):
        load_minifasnet(tmp_path / "extra.pth")
