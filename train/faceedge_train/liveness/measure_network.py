"""Scores every detected face of keypoint dumps with the MiniFASNet models, in PyTorch, the way the board crops.

    /usr/bin/python3 -m faceedge_train.liveness.measure_network \
        --weights V2=path/2.7_80x80_MiniFASNetV2.pth@2.7 --weights V1SE=path/4_0_0_80x80_MiniFASNetV1SE.pth@4.0 \
        --set live:scenes=dets.jsonl --set attack:print=dets2.jsonl ... --out scores.jsonl

A dump is what scripts/liveness/detect-keypoints.ts prints. Per image, faces at least `--min-face-px` wide are
scored (`--primary` keeps only the largest, for photo sets); each face gets P(live) from every model and from
their fusion (the mean of the models' softmax outputs, the publisher's rule). The summary printed at the end
gives, per set and threshold, the share of faces below it: the false-reject rate on live sets and the
detection rate on attack sets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .crop import BLAZEFACE_BOX_MAP, crop_for_network
from .minifasnet import INPUT_SIZE, load_minifasnet
from .tfjs_graph import TfjsGraph

THRESHOLDS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9)


def score_faces(
    models: dict, others: dict, image: np.ndarray, boxes: list[tuple[float, float, float, float]]
) -> list[dict]:
    """P(live) of each box from each MiniFASNet (name -> (model, scale)), their fusion, and each tfjs candidate
    (name -> (graph, input side, output index of "live")), which gets the publisher box itself (scale 1), RGB
    in 0..1 as @vladmandic/human feeds its face crops."""
    out = [dict() for _ in boxes]
    fused = np.zeros((len(boxes), 3))
    for name, (model, scale) in models.items():
        crops = np.stack([crop_for_network(image, box, scale, BLAZEFACE_BOX_MAP, INPUT_SIZE) for box in boxes])
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float()  # RGB, 0..255: the models take RGB (use_rgb_input)
        with torch.no_grad():
            p = torch.softmax(model(x), dim=1).numpy()
        fused += p / len(models)
        for i in range(len(boxes)):
            out[i][name] = float(p[i, 1])
    for i in range(len(boxes)):
        out[i]["fusion"] = float(fused[i, 1])
    for name, (graph, side, index) in others.items():
        crops = np.stack([crop_for_network(image, box, 1.0, BLAZEFACE_BOX_MAP, side) for box in boxes])
        with torch.no_grad():
            p = graph(torch.from_numpy(crops).float() / 255).numpy()
        for i in range(len(boxes)):
            out[i][name] = float(p[i, index])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", action="append", required=True, help="NAME=PATH@SCALE")
    parser.add_argument("--tfjs", action="append", default=[], help="NAME=MODEL.json@SIDE@LIVE_INDEX")
    parser.add_argument("--set", action="append", required=True, help="live|attack:NAME=DUMP.jsonl[,DUMP2…]")
    parser.add_argument("--min-face-px", type=float, default=40)
    parser.add_argument("--primary", action="append", default=[], help="set names scored on their largest face only")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    models = {}
    for spec in args.weights:
        name, rest = spec.split("=", 1)
        path, scale = rest.rsplit("@", 1)
        models[name] = (load_minifasnet(path).use_rgb_input(), float(scale))
    others = {}
    for spec in args.tfjs:
        name, rest = spec.split("=", 1)
        path, side, index = rest.rsplit("@", 2)
        others[name] = (TfjsGraph(path).eval(), int(side), int(index))
    rows = []
    for spec in args.set:
        kind, rest = spec.split(":", 1)
        set_name, dumps = rest.split("=", 1)
        for dump in dumps.split(","):
            for line in Path(dump).read_text().splitlines():
                rec = json.loads(line)
                faces = [f for f in rec.get("faces", []) if f["box"]["width"] >= args.min_face_px]
                if set_name in args.primary:
                    faces = sorted(faces, key=lambda f: -f["box"]["width"])[:1]
                if not faces:
                    rows.append({"set": set_name, "kind": kind, "file": rec["file"], "face": None})
                    continue
                image = np.asarray(Image.open(rec["file"]).convert("RGB"))
                boxes = [(f["box"]["x"], f["box"]["y"], f["box"]["width"], f["box"]["height"]) for f in faces]
                for face, scores in zip(faces, score_faces(models, others, image, boxes), strict=True):
                    rows.append({"set": set_name, "kind": kind, "file": rec["file"], "face": face["box"], **scores})
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summarize(rows, [*models, "fusion", *others])


def summarize(rows: list[dict], names: list[str]) -> None:
    """Per set: faces scored, images without a face, and the share of faces below each threshold."""
    for set_name in dict.fromkeys(r["set"] for r in rows):
        scored = [r for r in rows if r["set"] == set_name and r["face"] is not None]
        missing = sum(1 for r in rows if r["set"] == set_name and r["face"] is None)
        kind = next(r["kind"] for r in rows if r["set"] == set_name)
        what = "false-reject" if kind == "live" else "detected"
        print(f"{set_name} ({kind}): {len(scored)} faces, {missing} images without a face; share below t ({what})")
        for name in names:
            p = np.array([r[name] for r in scored])
            shares = " ".join(f"{t}:{(p < t).mean():.3f}" for t in THRESHOLDS) if len(p) else "-"
            print(f"  {name:8s} {shares}   median P(live) {np.median(p) if len(p) else float('nan'):.3f}")


if __name__ == "__main__":
    main()
