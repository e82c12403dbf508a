"""Export a face-embedding candidate as float32 and int8 TFLite plus its `manifest.json`.

    /usr/bin/python3 -m faceedge_train.recognition.export_embedder --candidate face-api \\
        --calibration <crops dir> --out models/face-embed --side 3.0 --centre-below 0.3 \\
        [--threshold T --far F --chosen-on pairs.csv] [--test-time-flip] [--ship int8]

The candidate's layers (converted from its published weights) are calibrated on crops made by
`faceedge dataset prepare --size <input> --side ... --centre-below ...` (identities of the
train-pool only), written with the project's TFLite writer and checked in the real TFLite runtime
against PyTorch: the float file's embeddings within 1e-4 (cosine > 0.99999), the int8 file's cosine
to the float embedding reported and required > 0.98 on every self-test crop.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..calibrate import calibrate
from ..layers import run_layers
from ..quantize import input_quant_for, quantize_model
from ..tflite.convert import build_graph
from ..tflite.runtime import run_tflite
from .face_api_resnet import build_layers as face_api_layers

CANDIDATES = {
    "face-api": {
        "build": lambda: face_api_layers(
            Path(os.environ.get("FACE_API_MODELS", "/work/scratch/face-api/package/model"))
        ),
        "normalization": {"mean": 128, "std": 128},
        "provenance": {
            "network": "dlib face recognition ResNet (dlib_face_recognition_resnet_model_v1), as shipped by face-api",
            "package": "@vladmandic/face-api 1.7.15 (npm, MIT), model/face_recognition_model.bin",
            "weights_origin": "Davis King, dlib-models (dlib_face_recognition_resnet_model_v1.dat)",
            "published_accuracy": "LFW 99.38 % ± 0.27 % (dlib-models README: mean error 0.993833, std 0.00272732)",
            "licence": (
                "weights: public domain (dlib-models README: 'anyone can do whatever they want with these model "
                "files as I've released them into the public domain'); face-api's packaging: MIT"
            ),
            "training_data": (
                "about 3 million faces of 7,485 identities: FaceScrub, VGG Face and images scraped by the author, "
                "no LFW identity (dlib-models README); the datasets' own terms are not restated by the author"
            ),
        },
    },
}
SELFTEST_COUNT = 4


def load_crops(root: Path, limit: int, size: int) -> np.ndarray:
    files = sorted(p for p in root.rglob("*.png"))[:limit]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    if not images or images[0].shape[:2] != (size, size):
        raise SystemExit(f"need {size}x{size} crops in {root}")
    return np.stack(images)


def to_input(images: np.ndarray, norm: dict) -> torch.Tensor:
    return (torch.from_numpy(images).permute(0, 3, 1, 2).double() - norm["mean"]) / norm["std"]


def _png(image: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def export(args) -> dict:
    spec = CANDIDATES[args.candidate]
    layers, info = spec["build"]()
    norm = spec["normalization"]
    size = info["input_shape"][0]
    images = load_crops(Path(args.calibration), args.calibration_count, size)
    batches = [to_input(images[i : i + 50], norm).float() for i in range(0, len(images), 50)]
    q = quantize_model(layers, calibrate(layers, batches, "mse"), input_quant_for(norm["mean"], norm["std"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    graphs = {"float32": build_graph(layers, input_size=size), "int8": build_graph(layers, q, input_size=size)}
    paths = {}
    for dtype, graph in graphs.items():
        paths[dtype] = out / f"{args.name}_{dtype}.tflite"
        paths[dtype].write_bytes(graph.serialize(f"{args.name} ({dtype}), faceedge_train.recognition.export_embedder"))
    # Both files are checked below; the ones not shipped are removed afterwards.
    shipped = args.ship or list(paths)
    golden = images[:SELFTEST_COUNT]
    with torch.no_grad():
        ref = _unit(run_layers(layers, to_input(golden, norm), torch.float64)[info["output"]].numpy())
    got_f, _ = run_tflite(
        paths["float32"], ((golden.astype(np.float32) - norm["mean"]) / norm["std"]).astype(np.float32)
    )
    got_f = _unit(got_f.reshape(len(golden), -1))
    if np.abs(got_f - ref).max() > 1e-4:
        raise SystemExit(f"float32 TFLite differs from PyTorch by {np.abs(got_f - ref).max():.2e}")
    got_q, report = run_tflite(paths["int8"], (golden.astype(np.int16) - 128).astype(np.int8))
    oq = report["output"]["quantization"]
    emb_q = _unit((got_q.reshape(len(golden), -1).astype(np.float64) - oq["zeroPoint"]) * oq["scale"])
    cos = (emb_q * ref).sum(axis=1)
    if cos.min() < 0.98:
        raise SystemExit(f"int8 embeddings are off the float ones: cosine {cos.min():.4f}")
    diff = np.abs(got_f - ref).max()
    print(f"[export] float max |diff| {diff:.2e}; int8 cosine to float {cos.min():.4f}..{cos.max():.4f}")

    def entry(dtype: str) -> dict:
        data = paths[dtype].read_bytes()
        return {
            "path": paths[dtype].name,
            "dtype": dtype,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }

    manifest = {
        "id": args.id or args.name,
        "task": "face-embedding",
        "input": {
            "width": size,
            "height": size,
            "channels": 3,
            "layout": "NHWC",
            "color": "RGB",
            "normalization": norm,
        },
        "embedding": {"dimensions": int(info["output_dims"]), "similarity": "cosine"},
        "alignment": {
            "size": size,
            "sideInEyeDistances": args.side,
            "centreBelowEyes": args.centre_below,
            "padding": "mirror",
        },
        "recognition": {
            "threshold": args.threshold,
            "far": args.far,
            "chosen_on": args.chosen_on,
            **({"margin": args.margin, "margin_chosen_on": args.margin_chosen_on} if args.margin is not None else {}),
        },
        "files": {dtype: entry(dtype) for dtype in paths if dtype in shipped},
        "test_time_flip": args.test_time_flip,
        "provenance": spec["provenance"],
        "calibration": {"root": str(Path(args.calibration).resolve()), "count": len(images), "method": "mse"},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "exporter": {"module": "faceedge_train.recognition.export_embedder", "torch_version": torch.__version__},
        "selftest": [
            {
                "png_base64": _png(golden[k]),
                "expected_embedding": [round(float(v), 6) for v in ref[k]],
                "expected_int8_embedding": [round(float(v), 6) for v in emb_q[k]],
                "min_cosine": 0.98,
            }
            for k in range(len(golden))
        ],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for dtype, path in paths.items():
        if dtype not in shipped:
            path.unlink()
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m faceedge_train.recognition.export_embedder")
    p.add_argument("--candidate", choices=sorted(CANDIDATES), required=True)
    p.add_argument("--calibration", required=True)
    p.add_argument("--calibration-count", type=int, default=300)
    p.add_argument("--out", required=True)
    p.add_argument("--name", default="faceedge-face-embed", help="file name stem of the .tflite files")
    p.add_argument(
        "--id",
        default=None,
        help=(
            "manifest id (default: --name). Galleries are bound to it: give a new id whenever the embeddings change "
            "(weights, alignment, flip), so that a gallery enrolled with the old ones is refused, not mismatched"
        ),
    )
    p.add_argument("--side", type=float, required=True)
    p.add_argument("--centre-below", type=float, required=True)
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--far", type=float, default=0.001)
    p.add_argument("--chosen-on", default=None)
    p.add_argument(
        "--margin",
        type=float,
        default=None,
        help="recognition.margin: the lead over the second-best person a match needs (default: the runtime's)",
    )
    p.add_argument("--margin-chosen-on", default=None, help="how the margin was measured (kept in the manifest)")
    p.add_argument(
        "--test-time-flip",
        action="store_true",
        help="the runtime embeds each crop with its mirror image and averages (the threshold was chosen so)",
    )
    p.add_argument(
        "--ship",
        action="append",
        choices=["float32", "int8"],
        help="files kept in --out and listed in the manifest (repeatable; default both)",
    )
    export(p.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
