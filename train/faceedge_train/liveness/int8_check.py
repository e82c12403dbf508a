"""Would an int8 file keep the anti-spoofing operating point? Measures it instead of assuming.

    /usr/bin/python3 -m faceedge_train.liveness.int8_check \
        --checkpoint ../data/liveness/minifasnet/4_0_0_80x80_MiniFASNetV1SE.pth --scale 4.0 \
        --calibration calibration-dets.jsonl --scores scores.jsonl

The network's layer list is calibrated on the largest face of each image of `--calibration` (a dump of
scripts/liveness/detect-keypoints.ts; photos used nowhere else), quantized with the input as q = pixel - 128,
and both the float32 and the int8 file run in the real TFLite runtime on every face that
`measure_network --out` scored. Prints how far int8 moves P(live) and, per set, the share below `--threshold`
for both files.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..calibrate import calibrate
from ..quantize import input_quant_for, quantize_model
from ..tflite.convert import build_graph
from ..tflite.runtime import run_tflite
from .crop import BLAZEFACE_BOX_MAP, crop_for_network
from .minifasnet import INPUT_SIZE, LIVE_CLASS, load_minifasnet
from .minifasnet_layers import minifasnet_layers


def _crop(file: str, box: dict, scale: float) -> np.ndarray:
    image = np.asarray(Image.open(file).convert("RGB"))
    return crop_for_network(image, (box["x"], box["y"], box["width"], box["height"]), scale, BLAZEFACE_BOX_MAP)


def _live(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True))[:, LIVE_CLASS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--calibration", type=Path, required=True)
    parser.add_argument("--scores", type=Path, required=True)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    calibration = []
    for line in args.calibration.read_text().splitlines():
        rec = json.loads(line)
        faces = sorted(rec.get("faces", []), key=lambda f: -f["box"]["width"])
        if faces:
            calibration.append(_crop(rec["file"], faces[0]["box"], args.scale))
    layers = minifasnet_layers(load_minifasnet(args.checkpoint).use_rgb_input())
    cal = np.stack(calibration)
    batches = [torch.from_numpy(cal[i : i + 50]).permute(0, 3, 1, 2).double() for i in range(0, len(cal), 50)]
    q = quantize_model(layers, calibrate(layers, batches, "mse"), input_quant_for(0, 1))
    rows = [r for r in map(json.loads, args.scores.read_text().splitlines()) if r["face"] is not None]
    crops = np.stack([_crop(r["file"], r["face"], args.scale) for r in rows])
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"float32": Path(tmp) / "f.tflite", "int8": Path(tmp) / "q.tflite"}
        paths["float32"].write_bytes(build_graph(layers, input_size=INPUT_SIZE).serialize())
        paths["int8"].write_bytes(build_graph(layers, q, input_size=INPUT_SIZE).serialize())
        sizes = {k: p.stat().st_size for k, p in paths.items()}
        logits_f, _ = run_tflite(paths["float32"], crops.astype(np.float32))
        raw, report = run_tflite(paths["int8"], (crops.astype(np.int16) - 128).astype(np.int8))
    oq = report["output"]["quantization"]
    pf, pq = _live(logits_f), _live((raw.astype(np.float64) - oq["zeroPoint"]) * oq["scale"])
    diff = np.abs(pq - pf)
    changed = int(((pq < args.threshold) != (pf < args.threshold)).sum())
    print(f"{len(cal)} calibration faces; bytes {sizes}")
    print(
        f"int8 - float32 P(live): median {np.median(diff):.4f}, p99 {np.percentile(diff, 99):.4f}, max {diff.max():.4f}"
    )
    print(f"decisions at {args.threshold} that differ: {changed} of {len(pf)}")
    groups = collections.defaultdict(list)
    for r, a, b in zip(rows, pf, pq, strict=True):
        name = f"{r['set']}/{Path(r['file']).parent.name}" if r["kind"] == "attack" else r["set"]
        groups[name].append((a, b))
    for name, values in groups.items():
        v = np.array(values)
        below = (v < args.threshold).mean(axis=0)
        print(f"  {name:40s} n={len(v):5d} below {args.threshold}: float32 {below[0]:.4f}  int8 {below[1]:.4f}")


if __name__ == "__main__":
    main()
