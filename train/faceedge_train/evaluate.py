"""Run a PyTorch classifier over an in-memory split and score it.

    python3 -m faceedge_train.evaluate --checkpoint runs/x/best.pt --data data/crops [--split test]

prints the metrics (metrics.binary_metrics for two classes, metrics.multiclass_metrics for more) of a
saved model on one split as JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import Split, load_split
from .labels import from_checkpoint
from .metrics import binary_metrics, multiclass_metrics
from .preprocess import to_model_input


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    device: torch.device,
    batch_size: int = 512,
    amp: torch.dtype | None = None,
    memory_format: torch.memory_format = torch.contiguous_format,
    flip: bool = False,
) -> np.ndarray:
    """Logits (float64 numpy, (N,) for a one-logit model, else (N, classes)) of uint8 (N, 64, 64, 3) crops,
    in eval mode.

    amp: CUDA autocast dtype or None; flip: mirror every crop left-right first (for flip TTA).
    """
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = to_model_input(images[start : start + batch_size].to(device))
        if flip:
            x = torch.flip(x, dims=[3])
        x = x.contiguous(memory_format=memory_format)
        with torch.autocast(device_type=device.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
            out.append(model(x).float().cpu())
    return torch.cat(out).double().numpy()


def evaluate_model(
    model: nn.Module,
    split: Split,
    device: torch.device,
    batch_size: int = 512,
    amp: torch.dtype | None = None,
    memory_format: torch.memory_format = torch.contiguous_format,
    flip_tta: bool = False,
    ordered: bool = False,
) -> dict:
    """Metrics of `model` on `split` (binary_metrics for a one-logit model, multiclass_metrics otherwise,
    with `ordered` for ordered labels), plus `loss` (plain BCE or cross-entropy: no smoothing or weights).

    flip_tta: also score the mirrored crops and report `tta_accuracy` (for information; the
    board runs one forward pass per face).
    """
    logits = predict_logits(model, split.images, device, batch_size, amp, memory_format)
    flipped = (
        predict_logits(model, split.images, device, batch_size, amp, memory_format, flip=True) if flip_tta else None
    )
    labels = split.labels.numpy()
    if logits.ndim == 1:
        result = binary_metrics(labels, logits, flipped, split.label_names)
        result["loss"] = float(
            F.binary_cross_entropy_with_logits(torch.from_numpy(logits), torch.from_numpy(labels).double())
        )
        return result
    result = multiclass_metrics(labels, logits, split.label_names, ordered, flipped)
    result["loss"] = float(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels))) if len(labels) else None
    return result


def main(argv: list[str] | None = None) -> None:
    from .checkpoint import load_checkpoint, model_from_checkpoint

    p = argparse.ArgumentParser(prog="faceedge_train.evaluate", description="score a checkpoint on a split")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="crops folder")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    checkpoint = load_checkpoint(args.checkpoint)
    labels = from_checkpoint(checkpoint)
    model = model_from_checkpoint(checkpoint).to(device)
    split = load_split(args.data, args.split, args.limit, labels=labels.names)
    print(json.dumps(evaluate_model(model, split, device, flip_tta=True, ordered=labels.ordered), indent=2))


if __name__ == "__main__":
    main()
