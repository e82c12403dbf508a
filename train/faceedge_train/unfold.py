"""Turn an exported float32 model back into a training checkpoint, so that `--init` can start from it.

    python3 -m faceedge_train.unfold --model models/faceedge-gender_float32.tflite --data <crops dir>
        --out runs/gender-unfolded.pt [--count 2000]

A shipped model travels as TFLite files; its PyTorch checkpoint stays on the workstation that trained it.
The float32 file holds every weight, with each BatchNorm folded into its convolution (fold.py), so the
network is rebuilt from the file's tensors (named after the PyTorch modules) and each BatchNorm is given
back statistics that make it the identity plus the folded bias in eval mode:

    running_mean = m, running_var = v, weight = sqrt(v + eps), bias = folded bias + m

where m and v are each convolution's output mean and variance over --count crops of --data. In eval mode
that is exactly the exported function; in training mode BatchNorm normalises with each batch's own
statistics, which for batches like those crops are m and v, so training starts from the exported model's
behaviour rather than from a renormalised one. The rebuilt model's outputs are checked against the folded
layers' before anything is written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from .checkpoint import save_checkpoint
from .data import decode_files, list_split
from .export import draw
from .labels import from_checkpoint, label_folders
from .model import ConvBNAct, FaceClassifier, ModelConfig
from .preprocess import to_model_input
from .tflite.reader import read_model

MAX_DIFF = 1e-4  # |rebuilt - exported| logit allowed (float32 rounding through ~50 layers)


def file_tensors(path: Path) -> dict[str, np.ndarray]:
    """Every constant tensor of a TFLite file by name."""
    graph = read_model(path.read_bytes())["subgraphs"][0]
    return {t["name"]: t["data"] for t in graph["tensors"] if t["data"] is not None}


def load_folded(model: FaceClassifier, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Put the file's folded weights into `model`'s convolutions and head, every BatchNorm set to the
    identity plus the folded bias (eval mode). Returns each convolution's folded bias by module name."""
    biases = {}
    with torch.no_grad():
        for name, block in model.named_modules():
            if not isinstance(block, ConvBNAct):
                continue
            weight, bias = tensors[f"{name}/weights"], tensors[f"{name}/bias"]
            # TFLite layouts: convolution [O, kh, kw, I], depthwise [1, kh, kw, C]; PyTorch [O, I/groups, kh, kw].
            layout = (3, 0, 1, 2) if block.conv.groups > 1 else (0, 3, 1, 2)
            block.conv.weight.copy_(torch.from_numpy(weight.transpose(layout).copy()))
            bn = block.bn
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)  # (y - 0) / sqrt(1 - eps + eps) = y
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(bias.copy()))
            biases[name] = bias.copy()
        head = "logit" if model.config.outputs == 1 else "logits"
        model.classifier.weight.copy_(torch.from_numpy(tensors[f"{head}/weights"].copy()))
        model.classifier.bias.copy_(torch.from_numpy(tensors[f"{head}/bias"].copy()))
    return biases


@torch.no_grad()
def conv_statistics(model: FaceClassifier, x: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(mean, variance) per channel of every convolution's output (before BatchNorm) over the batch `x`."""
    stats, hooks = {}, []
    for name, block in model.named_modules():
        if isinstance(block, ConvBNAct):

            def keep(_module, _inputs, output, name=name):
                stats[name] = (output.double().mean(dim=(0, 2, 3)), output.double().var(dim=(0, 2, 3), unbiased=False))

            hooks.append(block.conv.register_forward_hook(keep))
    model.eval()(x)
    for hook in hooks:
        hook.remove()
    return stats


def unfold(model_path: Path, manifest: dict, images: np.ndarray) -> FaceClassifier:
    """The rebuilt model (eval mode), its outputs checked against the folded form's on `images`."""
    config = ModelConfig(**manifest["model_config"])
    model = FaceClassifier(config)
    biases = load_folded(model, file_tensors(model_path))
    x = to_model_input(torch.from_numpy(images))
    with torch.no_grad():
        folded = model.eval()(x)
        stats = conv_statistics(model, x)
        for name, block in model.named_modules():
            if isinstance(block, ConvBNAct):
                mean, var = stats[name]
                bn = block.bn
                bn.running_mean.copy_(mean.float())
                bn.running_var.copy_(var.float())
                bn.weight.copy_(torch.sqrt(var + bn.eps).float())
                bn.bias.copy_((torch.from_numpy(biases[name]).double() + mean).float())
        diff = float((model(x) - folded).abs().max())
    if diff > MAX_DIFF:
        raise ValueError(f"the rebuilt model differs from the file by {diff:.2e} (> {MAX_DIFF})")
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m faceedge_train.unfold", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="an exported *_float32.tflite")
    parser.add_argument("--manifest", type=Path, help="its manifest.json (default: beside the model)")
    parser.add_argument("--data", required=True, type=Path, help="crops folder whose train split gives the statistics")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint to write")
    parser.add_argument("--count", type=int, default=2000, help="crops for the statistics (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    manifest_path = args.manifest or args.model.with_name("manifest.json")
    manifest = json.loads(manifest_path.read_text())
    labels = from_checkpoint({"labels": manifest["labels"], "ordered_labels": manifest.get("ordered", False)})
    # The statistics are label-free: the crops of any labelled folder will do.
    files = draw(
        list_split(args.data, "train", labels=tuple(label_folders(args.data / "train"))), args.count, args.seed
    )
    try:
        model = unfold(args.model, manifest, decode_files(args.data, files))
    except (KeyError, ValueError) as err:
        print(f"[unfold] error: {err}", file=sys.stderr)
        return 1
    save_checkpoint(
        args.out,
        {
            "model_state": model.state_dict(),
            "model_config": model.config.to_dict(),
            "training": {
                "unfolded_from": {
                    "path": str(args.model.resolve()),
                    "sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
                    "model_id": manifest.get("id"),
                }
            },
            "dataset": {"batchnorm_statistics": {"path": str(args.data.resolve()), "crops": len(files)}},
            "history": [],
            "metrics": manifest.get("metrics") or {},
            **labels.to_record(),
        },
    )
    print(f"[unfold] wrote {args.out} ({len(files)} crops for the BatchNorm statistics)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
