"""Reads a TensorFlow.js model: `model.json` (graph or layers format) and its binary weight shards.

The weights manifest lists, per group, the shard files (concatenated in order) and each weight's name,
shape, dtype and optional quantization (`float16`, or `uint8`/`uint16` with scale and min). Values
come back as float32/int32 numpy arrays, dequantized.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANT = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def read_manifest_weights(folder: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """Every weight of a tfjs weights manifest, by name."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            if quant:
                stored = np.dtype(_QUANT[quant["dtype"]])
                raw = np.frombuffer(data, stored, count, offset).astype(np.float64)
                if quant["dtype"] != "float16":
                    raw = raw * quant["scale"] + quant["min"]
                values = raw.astype(_DTYPES[quant.get("original_dtype", spec["dtype"])])
                offset += count * stored.itemsize
            else:
                dtype = np.dtype(_DTYPES[spec["dtype"]])
                values = np.frombuffer(data, dtype, count, offset).copy()
                offset += count * dtype.itemsize
            out[spec["name"]] = values.reshape(shape)
        if offset != len(data):
            raise ValueError(f"{folder}: weights of {group['paths']} use {offset} of {len(data)} bytes")
    return out


def load_model_json(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(model.json as a dict, weights by name) of a tfjs model file and the shards beside it."""
    path = Path(path)
    model = json.loads(path.read_text())
    return model, read_manifest_weights(path.parent, model["weightsManifest"])
