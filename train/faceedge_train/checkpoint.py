"""Self-describing training checkpoints and the provenance they carry.

A checkpoint is a plain dict saved with torch.save:
  model_state   state_dict of the evaluated (EMA) model, float tensors float32 on CPU
  model_config  ModelConfig as a dict, enough to rebuild the module
  training      hyper-parameters, seed, epochs run, wall-clock seconds, device, versions, git commit
  dataset       crops path, counts per split and class, sha256 of the crops manifest.json
  history       one dict per epoch (the JSON lines the run printed)
  metrics       {"val": ..., "test": ...} from metrics.binary_metrics
  resume        (last.pt only) raw model, EMA, optimizer, scheduler, scaler and RNG states
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from .model import FaceClassifier, ModelConfig

REQUIRED_KEYS = ("model_state", "model_config", "training", "dataset", "history", "metrics")


def cpu_state(state: dict) -> dict:
    """Copy of a state_dict as contiguous CPU tensors, floats as float32 (no bf16/fp16, no CUDA)."""
    out = {}
    for name, tensor in state.items():
        t = tensor.detach().to("cpu")
        out[name] = (t.float() if t.dtype.is_floating_point else t).contiguous().clone()
    return out


def device_name(device: torch.device) -> str:
    """GPU name from CUDA, else the CPU model line of /proc/cpuinfo (or platform.processor())."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> dict | None:
    """{"commit": sha, "dirty": bool} of the repository holding this package, or None without git."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--", str(here.parent)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": bool(status.strip())}


def environment(device: torch.device) -> dict:
    """Where a run happened: device name, torch/python versions, host threads, git commit."""
    return {
        "device": str(device),
        "device_name": device_name(device),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "python_version": platform.python_version(),
        "threads": torch.get_num_threads(),
        "git": git_commit(),
    }


def save_checkpoint(path: str | os.PathLike, checkpoint: dict) -> None:
    """torch.save to a temporary file then rename, so a crash never leaves a truncated best.pt."""
    missing = [k for k in REQUIRED_KEYS if k not in checkpoint]
    if missing:
        raise ValueError(f"checkpoint lacks {missing}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, required: tuple[str, ...] = REQUIRED_KEYS) -> dict:
    """Load a checkpoint onto the CPU and check it has every documented key."""
    # torch >= 2.6 defaults to weights_only=True, which refuses our metadata (tuples, numpy
    # floats); the argument exists since torch 1.13. These files are our own.
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    missing = [k for k in required if k not in checkpoint]
    if missing:
        raise ValueError(f"{path} is not a faceedge checkpoint: missing {missing}")
    return checkpoint


def model_from_checkpoint(checkpoint: dict) -> FaceClassifier:
    """Rebuild the evaluated model (eval mode, CPU) from a loaded checkpoint."""
    model = FaceClassifier(ModelConfig(**checkpoint["model_config"]))
    model.load_state_dict(checkpoint["model_state"])
    return model.eval()


HEAD = "classifier."  # the last layer's parameter names: its width is the number of classes


def load_weights_into(model: FaceClassifier, path: str | os.PathLike) -> dict:
    """Load the checkpoint at `path`'s model weights into `model` (training's --init). The weights must
    have the same shapes (same width and last channels); strides and dropout hold no weights and may
    differ. A checkpoint with another number of classes gives everything but the last layer, which keeps
    its fresh initialization (e.g. an age-band model started from the gender model's features).
    Returns {field: (checkpoint's, model's)} for the architecture fields that differ.
    Raises ValueError when the file is missing or its weights do not fit."""
    if not Path(path).is_file():
        raise ValueError(f"--init {path} does not exist")
    checkpoint = load_checkpoint(path, required=("model_state", "model_config"))
    config = model.config.to_dict()
    theirs = ModelConfig(**checkpoint["model_config"])
    state = checkpoint["model_state"]
    if theirs.outputs != model.config.outputs:  # another head: keep this model's own last layer
        state = {**state, **{k: v for k, v in model.state_dict().items() if k.startswith(HEAD)}}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(
            f"--init {path} holds a {checkpoint['model_config']} model whose weights do not fit "
            f"this run's {config} (hint: pass the same --width and --last-channels)"
        ) from err
    theirs_dict, ours = asdict(theirs), asdict(model.config)
    return {k: (v, ours[k]) for k, v in theirs_dict.items() if ours[k] != v}


if __name__ == "__main__":  # python -m faceedge_train.checkpoint runs/x/best.pt: print the summary
    ckpt = load_checkpoint(sys.argv[1])
    print(json.dumps({k: ckpt[k] for k in ("model_config", "training", "dataset", "metrics")}, indent=2, default=str))
