"""The training CLI's arguments: every option with its default (`python3 -m faceedge_train.train --help`)."""

from __future__ import annotations

import argparse

from .augment import AugmentConfig
from .labels import MAX_LABELS
from .model import ModelConfig
from .validation import SELECTIONS

DESCRIPTION = "Train a 64x64 face classifier (2 to 50 classes) from crops folders."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="faceedge_train.train",
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="DIR",
        help="crops folder(s) with {train,val,test}/<label>/*.png; several folders (sources) "
        "train on all train splits and choose the epoch on the mean of their val scores",
    )
    p.add_argument("--out", required=True, help="run folder for checkpoints and history")
    p.add_argument(
        "--labels",
        default=None,
        metavar="A,B,...",
        help=f"the classes in output order (2 to {MAX_LABELS}; they must be exactly the label folders); "
        "default: the folder names sorted",
    )
    p.add_argument(
        "--ordered",
        action="store_true",
        help="the labels are a scale in their order (age bands): off-by-more-than-one is reported and the "
        "smoothing goes to neighbouring classes; numeric ranges (0-12, 13-19, ..., 60+) order themselves",
    )
    p.add_argument(
        "--select",
        default="auto",
        choices=SELECTIONS,
        help="val metric that chooses the best epoch; auto: accuracy for 2 labels, macro_recall for more",
    )
    p.add_argument("--min-per-label", type=int, default=10, help="refuse a label with fewer training crops than this")
    p.add_argument(
        "--progress",
        default=None,
        metavar="FILE",
        help="where progress events go, one JSON object per line (progress.py); '-' for stdout, replacing "
        "the plain epoch lines; default <out>/progress.jsonl",
    )
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=0.05, help="AdamW decay (not on BN or biases)")
    p.add_argument("--warmup-epochs", type=float, default=1.0, help="linear warmup, then cosine to min-lr")
    p.add_argument("--min-lr-ratio", type=float, default=0.01, help="final lr as a fraction of --lr")
    p.add_argument("--label-smoothing", type=float, default=0.1, help="targets become eps/2 and 1 - eps/2")
    p.add_argument(
        "--no-balance",
        dest="balance",
        action="store_false",
        help="do not weight the loss so that every class counts equally",
    )
    p.add_argument("--ema-decay", type=float, default=0.998, help="0 disables EMA (the raw model is kept)")
    p.add_argument("--width", type=float, default=ModelConfig.width)
    p.add_argument("--stem-stride", type=int, default=ModelConfig.stem_stride, choices=(1, 2))
    p.add_argument(
        "--late-stride",
        type=int,
        default=ModelConfig.late_stride,
        choices=(1, 2),
        help="stride of the 160-channel stage (1: 4x4 final map at 64x64 input)",
    )
    p.add_argument("--last-channels", type=int, default=ModelConfig.last_channels)
    p.add_argument("--dropout", type=float, default=ModelConfig.dropout)
    p.add_argument(
        "--occlude-p",
        type=float,
        default=AugmentConfig.occlude_p,
        help="probability of a random occluding rectangle per training crop",
    )
    p.add_argument(
        "--teacher",
        default=None,
        metavar="CSV",
        help="distil: a teacher's P(male) per training image (train/teacher/label.ts output)",
    )
    p.add_argument(
        "--teacher-weight",
        type=float,
        default=0.5,
        help="target = (1 - w) * label + w * teacher; at w <= 0.5 it never crosses to the other class",
    )
    p.add_argument(
        "--age-balance",
        type=float,
        default=0.0,
        metavar="STRENGTH",
        help="weight the loss of a source's rare age bands up, (largest band / band) ** STRENGTH (at "
        "most 4x), where its labels.csv has ages (UTKFace); 0: off, 1: every band counts equally",
    )
    p.add_argument(
        "--age-targets",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="ordered age-band labels: learn each crop's band shares of N(age, SIGMA^2 years) from its photo's "
        "labels.csv age instead of a one-hot band (age_targets.py); 0: off",
    )
    p.add_argument(
        "--fold-val",
        action="store_true",
        help="final training: learn from train + val and keep the last epoch (choose the recipe "
        "without this first; val scores are then on seen faces)",
    )
    p.add_argument("--no-augment", dest="augment", action="store_false", help="train on the plain crops")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="at most N images per split (quick runs)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--amp",
        default="auto",
        choices=("auto", "bf16", "fp16", "off"),
        help="CUDA autocast dtype; auto = bf16 where supported, else fp16 (CPU: always off)",
    )
    p.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="NHWC memory format: 1.6x faster on CPU (oneDNN), and what tensor cores want",
    )
    p.add_argument("--deterministic", action="store_true", help="CUDA: no cuDNN autotuning, deterministic kernels")
    p.add_argument("--eval-batch-size", type=int, default=512)
    p.add_argument(
        "--init",
        default=None,
        metavar="CHECKPOINT",
        help="start from a trained model's weights (a best.pt of the same width and last channels) with a fresh "
        "optimizer and schedule: a warm restart, e.g. to go on training a finished run with a new "
        "--epochs/--lr",
    )
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if <out> has a run")
    p.add_argument("--no-cache", dest="cache", action="store_false", help="do not read/write the .npz cache")
    return p.parse_args(argv)
