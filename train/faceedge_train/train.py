"""Train the 64x64 face classifier from a crops folder.

    python3 -m faceedge_train.train --data data/crops --out runs/<name> [--epochs 30 ...]

Every epoch prints one JSON line to stdout (train/val loss and accuracy, lr, seconds, images/s)
and appends it to <out>/history.jsonl; <out>/last.pt (resumable with --resume) and <out>/best.pt
(best EMA model by validation accuracy) are rewritten as the run goes. At the end the best model
is evaluated on val and test and the metrics land in best.pt, <out>/metrics.json and
<out>/history.json. Other messages go to stderr, so stdout stays pure JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

# Before torch loads its OpenMP runtime: with the default "ACTIVE" policy, idle worker threads spin,
# and where other jobs also use the cores (the shared 2-core dev box) two spinning threads trained at
# 41 images/s where two passive ones reached 321 (one thread: 363). OMP_WAIT_POLICY=ACTIVE overrides.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from .augment import AugmentConfig, Augmenter
from .checkpoint import cpu_state, environment, load_weights_into, save_checkpoint
from .data import common_alignment, concat_splits, load_sources, manifest_sha256
from .distributed import init_distributed
from .ema import ModelEma
from .evaluate import evaluate_model, predict_logits
from .groups import training_weights
from .model import FaceClassifier, ModelConfig, parameter_count
from .step import Stepper, amp_dtype, make_optimizer, make_scaler, make_scheduler
from .teacher import teacher_targets

MAX_PARAMETERS = 1_000_000  # the shipped classifier's budget (int8 size and latency on the board)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="faceedge_train.train",
        description=__doc__.split("\n")[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="DIR",
        help="crops folder(s) with {train,val,test}/{female,male}/*.png; several folders (sources) "
        "train on all train splits and choose the epoch on the mean of their val accuracies",
    )
    p.add_argument("--out", required=True, help="run folder for checkpoints and history")
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
        help="do not weight the loss so both classes count equally",
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


def log(message: str) -> None:
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 speaks
        return
    print(f"[train] {message}", file=sys.stderr, flush=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """Device for --device auto|cpu|cuda|cuda:N; CUDA ones get an explicit index (tensors
    report "cuda:0", and a bare "cuda" would compare unequal to it)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda but torch sees no CUDA device (hint: --device cpu)")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    return device


def run(args: argparse.Namespace) -> dict:
    """Train as `args` says; returns the final checkpoint dict (also written to <out>/best.pt)."""
    ddp = init_distributed(args.device, pick_device)  # under torchrun: this rank's place; else a world of one
    ddp.check_batch(args.batch_size)
    out = Path(args.out)
    if (out / "last.pt").exists() and not (args.resume or args.overwrite):
        raise SystemExit(f"error: {out} already holds a run (hint: --resume to continue, --overwrite to restart)")
    if args.resume and not (out / "last.pt").exists():
        raise SystemExit(f"error: --resume but {out / 'last.pt'} does not exist")
    out.mkdir(parents=True, exist_ok=True)
    if not args.resume and ddp.is_main:  # --overwrite: nothing of the previous run may leak into this one's files
        for name in ("history.jsonl", "history.json", "metrics.json", "best.pt", "last.pt"):
            (out / name).unlink(missing_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = ddp.device
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not args.deterministic
        torch.backends.cudnn.deterministic = args.deterministic
    dtype = amp_dtype(args.amp, device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format

    t0 = time.time()
    sources = load_sources(args.data, args.limit, use_cache=args.cache)
    log(
        "loaded "
        + "; ".join(f"{src.name}: " + ", ".join(f"{n} {len(s)}" for n, s in src.splits.items()) for src in sources)
        + f" in {time.time() - t0:.1f} s"
    )
    # Per-source evaluation splits: each source's val/test is scored on its own, and the epoch is chosen
    # on the mean of the sources' val accuracies, so a big source cannot drown a small one.
    held_out = {
        split: {src.name: src.splits[split] for src in sources if split in src.splits} for split in ("val", "test")
    }
    # (crops folder, split) of every part of the training split, in the order they are concatenated.
    train_parts = [(src.root, src.splits["train"]) for src in sources if "train" in src.splits]
    if args.fold_val:
        train_parts += [(src.root, src.splits["val"]) for src in sources if "val" in src.splits]
    train = concat_splits("train+val" if args.fold_val else "train", [split for _, split in train_parts])
    if args.fold_val:
        log(f"--fold-val: training on {len(train)} crops; the last epoch is kept, val is no longer held out")
    dataset_info = {
        "path": str(Path(args.data[0]).resolve()),
        "manifest_sha256": manifest_sha256(args.data[0]),
        "limit": args.limit,
        "counts": {
            name: concat_splits(name, [src.splits[name] for src in sources if name in src.splits]).class_counts()
            for name in ("train", "val", "test")
            if any(name in src.splits for src in sources)
        },
        "sources": [
            {
                "name": src.name,
                "path": str(src.root.resolve()),
                "manifest_sha256": manifest_sha256(src.root),
                "counts": {n: s.class_counts() for n, s in src.splits.items()},
            }
            for src in sources
        ],
        # The crop geometry the model learns; export writes it into the board's manifest.
        "alignment": common_alignment({src.name: src.alignment for src in sources}),
    }
    train_weights = None
    if args.age_balance > 0:
        try:
            weights, bands = training_weights(train_parts, args.age_balance)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from err
        dataset_info["age_balance"] = {"strength": args.age_balance, "bands": bands}
        log(f"age balance {args.age_balance}: {json.dumps(bands)}")
        train_weights = weights.to(device)
    train_targets = None
    if args.teacher:
        teacher = teacher_targets(args.teacher, train, args.teacher_weight)
        dataset_info["teacher"] = dict(teacher.summary(args.teacher_weight), path=str(Path(args.teacher).resolve()))
        log(
            f"teacher: {teacher.covered}/{len(train)} crops with a probability, "
            f"agreeing with the label on {teacher.agree}"
        )
        if teacher.covered < 0.5 * len(train):
            log("warning: the teacher covers under half of the training crops (is the CSV for this dataset?)")
        train_targets = teacher.targets.to(device)

    config = ModelConfig(
        width=args.width,
        stem_stride=args.stem_stride,
        late_stride=args.late_stride,
        last_channels=args.last_channels,
        dropout=args.dropout,
    )
    model = FaceClassifier(config).to(device, memory_format=memory_format)
    ddp.seed_rank(args.seed)  # dropout masks differ per rank (rank 0 keeps the one-process stream)
    if args.init and not args.resume:
        try:
            changed = load_weights_into(model, args.init)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from err
        log(f"initialised from {args.init}" + "".join(f", {k} {a} -> {b}" for k, (a, b) in changed.items()))
    n_params = parameter_count(model)
    if n_params > MAX_PARAMETERS:
        log(f"warning: {n_params} parameters exceeds the {MAX_PARAMETERS} budget of the shipped model")
    ema = ModelEma(model, args.ema_decay) if args.ema_decay > 0 else None
    optimizer = make_optimizer(model, args.lr, args.weight_decay)
    steps_per_epoch = max(1, len(train) // args.batch_size)  # drop the ragged last batch: BN needs samples
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, round(args.warmup_epochs * steps_per_epoch))
    scheduler = make_scheduler(optimizer, total_steps, warmup, args.min_lr_ratio)
    scaler = make_scaler(dtype == torch.float16)
    augment_config = AugmentConfig(occlude_p=args.occlude_p)
    augmenter = Augmenter(augment_config, seed=ddp.rank_seed(args.seed), device=device) if args.augment else None
    order_rng = torch.Generator()
    order_rng.manual_seed(args.seed + 1)

    counts = torch.bincount(train.labels, minlength=2).double()
    class_weight = (counts.sum() / (2 * counts.clamp(min=1))).float().to(device) if args.balance else None
    train_images = train.images.to(device)
    train_labels = train.labels.float().to(device)
    stepper = Stepper(
        ddp.wrap(model),
        optimizer,
        scheduler,
        scaler,
        ema,
        augmenter,
        device,
        dtype,
        memory_format,
        args.label_smoothing,
        class_weight,
    )

    hyper = {k: v for k, v in vars(args).items() if k not in ("resume", "overwrite")}
    hyper.update(
        augment_config=augment_config.to_dict() if args.augment else None,
        steps_per_epoch=steps_per_epoch,
        amp=str(dtype).replace("torch.", "") if dtype else "off",
        parameters=n_params,
        distributed=ddp.describe(args.batch_size),
    )
    history: list[dict] = []
    best_key, best_state, best_epoch, start_epoch, elapsed = (-1.0, 0.0), None, -1, 0, 0.0
    if args.resume:
        state = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        resume = state["resume"]
        model.load_state_dict(resume["model_state"])
        if ema is not None:
            ema.load_state_dict(resume["ema"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        scaler.load_state_dict(resume["scaler"])
        if augmenter is not None:
            augmenter.load_state_dict(resume["augmenter"])
        order_rng.set_state(resume["order_rng"])
        torch.set_rng_state(resume["torch_rng"])  # dropout masks
        if resume.get("cuda_rng") is not None and device.type == "cuda":
            torch.cuda.set_rng_state(resume["cuda_rng"], device)
        ddp.restore_rank_state(resume, augmenter, device, args.seed)
        history, start_epoch, elapsed = state["history"], resume["epoch"] + 1, resume["elapsed"]
        best_key, best_epoch = tuple(resume["best_key"]), resume["best_epoch"]
        best_state = torch.load(out / "best.pt", map_location="cpu", weights_only=False)["model_state"]
        # last.pt's history is the truth: a crash between saving it and logging must not drop a line.
        if ddp.is_main:
            (out / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
        log(f"resumed after epoch {start_epoch} (best val accuracy {best_key[0]:.4f} at epoch {best_epoch})")
    env = environment(device)
    log(f"{n_params} parameters, {steps_per_epoch} steps/epoch on {env['device_name']}, amp {hyper['amp']}")

    def checkpoint(model_state: dict, metrics: dict, epochs_run: int, extra: dict | None = None) -> dict:
        training = dict(hyper, epochs_run=epochs_run, best_epoch=best_epoch, wall_seconds=round(elapsed, 1), **env)
        ckpt = {
            "model_state": model_state,
            "model_config": config.to_dict(),
            "training": training,
            "dataset": dataset_info,
            "history": history,
            "metrics": metrics,
        }
        return dict(ckpt, **(extra or {}))

    for epoch in range(start_epoch, args.epochs):
        epoch_start = time.time()
        model.train()
        sums = torch.zeros(2, device=device)  # loss * n and correct, summed on device, read once
        seen = 0
        order = torch.randperm(len(train), generator=order_rng).to(device)
        for step in range(steps_per_epoch):
            idx = ddp.shard(order[step * args.batch_size : (step + 1) * args.batch_size])  # this rank's share
            labels = train_labels[idx]
            seen += len(idx)
            targets = None if train_targets is None else train_targets[idx]
            weights = None if train_weights is None else train_weights[idx]
            loss, logits = stepper(train_images[idx], labels, targets, weights)
            with torch.no_grad():
                sums += torch.stack([loss * len(idx), ((logits > 0).float() == labels).sum().float()])
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = time.time() - epoch_start
        loss_sum, correct = ddp.sum(sums).tolist()
        seen *= ddp.world_size  # every rank took an equal share of each global batch
        ddp.sync_eval_state(model, ema)  # every rank validates rank 0's EMA and BN buffers

        eval_model = ema.module if ema is not None else model
        val_metrics = score_sources(eval_model, held_out["val"], device, args.eval_batch_size, dtype, memory_format)
        record = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / seen,
            "train_acc": correct / seen,
            "val_loss": val_metrics["loss"],
            "val_acc": val_metrics["accuracy"],
            "val_auc": val_metrics["roc_auc"],
        }
        if len(held_out["val"]) > 1:
            record["val_acc_by_source"] = {n: m["accuracy"] for n, m in val_metrics["by_source"].items()}
        if ema is not None:  # the raw weights' accuracy shows what the averaging adds
            raw_by_source = [
                float(
                    (
                        (predict_logits(model, v.images, device, args.eval_batch_size, dtype, memory_format) > 0)
                        == v.labels.numpy().astype(bool)
                    ).mean()
                )
                for v in held_out["val"].values()
            ]
            record["val_acc_raw"] = float(np.mean(raw_by_source))
        elapsed += time.time() - epoch_start
        key = (val_metrics["accuracy"], -val_metrics["loss"])
        is_best = ddp.agree(key > best_key or args.fold_val)  # folded val cannot choose an epoch: keep the last
        record.update(
            lr=optimizer.param_groups[0]["lr"],
            seconds=round(time.time() - epoch_start, 2),
            images_per_s=round(seen / train_seconds, 1),
            best=is_best,
        )
        history.append(record)
        eval_state = cpu_state(eval_model.state_dict())
        if is_best:
            best_key, best_state, best_epoch = key, eval_state, epoch + 1
            if ddp.is_main:
                save_checkpoint(out / "best.pt", checkpoint(best_state, {"val": val_metrics}, epoch + 1))
        resume = {
            "epoch": epoch,
            "elapsed": elapsed,
            "best_key": list(best_key),
            "best_epoch": best_epoch,
            "model_state": cpu_state(model.state_dict()),
            "ema": ema.state_dict() if ema else None,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "order_rng": order_rng.get_state(),
            "augmenter": augmenter.state_dict() if augmenter else None,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            **ddp.rank_states(augmenter, device),
        }
        if not ddp.is_main:  # under torchrun only rank 0 writes files and prints records
            continue
        save_checkpoint(out / "last.pt", checkpoint(eval_state, {"val": val_metrics}, epoch + 1, {"resume": resume}))
        print(json.dumps(record), flush=True)
        with open(out / "history.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")

    if best_state is None:
        raise SystemExit("error: no epoch was run (hint: --epochs must exceed the epochs already in last.pt)")
    final_model = FaceClassifier(config)
    final_model.load_state_dict(best_state)
    final_model.to(device, memory_format=memory_format).eval()
    metrics = {
        name: score_sources(
            final_model, held_out[name], device, args.eval_batch_size, dtype, memory_format, flip_tta=True
        )
        for name in ("val", "test")
        if held_out[name]
    }
    final = checkpoint(best_state, metrics, len(history))
    if ddp.is_main:
        save_checkpoint(out / "best.pt", final)
        (out / "metrics.json").write_text(json.dumps(dict(metrics, best_epoch=best_epoch), indent=2))
        (out / "history.json").write_text(json.dumps(history, indent=2))
    summary = (
        {
            "best_epoch": best_epoch,
            **{f"{n}_acc": m["accuracy"] for n, m in metrics.items()},
            **{f"test_recall_{c}": v["recall"] for c, v in metrics["test"]["per_class"].items()},
            "test_tta_acc": metrics["test"]["tta_accuracy"],
            "wall_seconds": round(elapsed, 1),
        }
        if "test" in metrics
        else {"best_epoch": best_epoch, "val_acc": metrics["val"]["accuracy"]}
    )
    log("done: " + json.dumps(summary))
    ddp.close()
    return final


def score_sources(
    model, by_source: dict, device, batch_size: int, dtype, memory_format, flip_tta: bool = False
) -> dict:
    """Metrics of one split over several sources. One source: its metrics as they are. Several: the
    pooled metrics, with `accuracy`, `loss` (and `tta_accuracy`) replaced by the mean over sources (each
    source counts equally), `pooled_accuracy` kept, and every source's own metrics under `by_source`."""
    scored = {
        name: evaluate_model(model, split, device, batch_size, dtype, memory_format, flip_tta=flip_tta)
        for name, split in by_source.items()
    }
    if len(scored) == 1:
        return next(iter(scored.values()))
    pooled = evaluate_model(
        model,
        concat_splits("pooled", list(by_source.values())),
        device,
        batch_size,
        dtype,
        memory_format,
        flip_tta=flip_tta,
    )
    result = dict(pooled, pooled_accuracy=pooled["accuracy"], by_source=scored)
    for key in ("accuracy", "loss", "tta_accuracy"):
        if key in pooled:
            result[key] = float(np.mean([m[key] for m in scored.values()]))
    return result


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
