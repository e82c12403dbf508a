"""Run .tflite files in the real TFLite runtime through the project's `scripts/tflite-run.ts`.

That script loads the model with faceedge's own TypeScript binding of the TFLite 2.9 C API (the
library inside the npm package tfjs-tflite-node), XNNPACK, 1 thread by default, so Python checks the
exact runtime the edge daemon uses. A whole batch goes through one process call.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

RUNNER = Path("scripts") / "tflite-run.ts"
TSX = Path("node_modules") / ".bin" / "tsx"

DTYPES = {
    "float32": np.float32,
    "int8": np.int8,
    "uint8": np.uint8,
    "int32": np.int32,
    "int16": np.int16,
    "int64": np.int64,
}


class RuntimeUnavailable(RuntimeError):
    """node, node_modules or scripts/tflite-run.ts is missing; `str()` says which."""


def repo_root() -> Path:
    """The checkout holding this package (the folder with package.json above train/)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "package.json").is_file() and (parent / "train").is_dir():
            return parent
    raise RuntimeUnavailable(f"no package.json above {here}")


def unavailable_reason(root: Path | None = None) -> str | None:
    """Why the runtime cannot run here, or None when it can."""
    try:
        root = root or repo_root()
    except RuntimeUnavailable as err:
        return str(err)
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (root / "node_modules" / "tfjs-tflite-node").is_dir():
        return f"{root}/node_modules/tfjs-tflite-node is missing (run npm install)"
    if not (root / TSX).exists():
        return f"{root / TSX} is missing (run npm install)"
    if not (root / RUNNER).is_file():
        return f"{root / RUNNER} is missing"
    return None


def run_tflite(
    model: str | Path, inputs: np.ndarray, delegate: str = "xnnpack", threads: int = 1, timeout_s: float = 600.0
) -> tuple[np.ndarray, dict]:
    """Run every item of `inputs` (N, *input_shape[1:]) through `model`, one invoke each.

    inputs must already have the model input's dtype (float32 or int8). Returns (outputs with shape
    (N, *output_shape[1:]) in the output dtype, the runner's JSON report: input/output tensor
    details, active delegate, n).
    """
    root = repo_root()
    reason = unavailable_reason(root)
    if reason:
        raise RuntimeUnavailable(reason)
    inputs = np.ascontiguousarray(inputs)
    with tempfile.TemporaryDirectory(prefix="faceedge-tflite-") as tmp:
        in_path, out_path = Path(tmp) / "input.bin", Path(tmp) / "output.bin"
        in_path.write_bytes(inputs.astype(inputs.dtype.newbyteorder("<"), copy=False).tobytes())
        cmd = [
            str(root / TSX),
            str(RUNNER),
            str(Path(model).resolve()),
            str(in_path),
            str(out_path),
            "--delegate",
            delegate,
            "--threads",
            str(threads),
        ]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode != 0:
            raise RuntimeError(f"tflite-run failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        report = _last_json_line(proc.stdout)
        out_info = report["output"]
        dtype = DTYPES[out_info["dtype"]]
        in_dtype = DTYPES[report["input"]["dtype"]]
        if inputs.dtype != in_dtype:
            raise TypeError(f"inputs are {inputs.dtype}, the model input is {report['input']['dtype']}")
        raw = np.frombuffer(out_path.read_bytes(), dtype=dtype)
    n = int(report["n"])
    if n != len(inputs):
        raise RuntimeError(f"runner processed {n} inputs, sent {len(inputs)}")
    return raw.reshape(n, *out_info["shape"][1:]).copy(), report


def _last_json_line(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"tflite-run printed no JSON report: {stdout[-500:]!r}")
