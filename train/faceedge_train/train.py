"""Train a 64x64 face classifier (2 to 50 classes) from crops folders.

    python3 -m faceedge_train.train --data data/crops --out runs/<name> [--epochs 30 ...]

Every epoch prints one JSON line to stdout (train/val loss and accuracy, lr, seconds, images/s)
and appends it to <out>/history.jsonl; <out>/last.pt (resumable with --resume) and <out>/best.pt
(best EMA model by the validation metric) are rewritten as the run goes. At the end the best model
is evaluated on val and test and the metrics land in best.pt, <out>/metrics.json and
<out>/history.json. Other messages go to stderr, so stdout stays pure JSON lines. Progress events for a
driving process go to <out>/progress.jsonl (progress.py); SIGINT/SIGTERM stop the run resumably
(interrupt.py). Exit status: 0 done, 2 bad input, 128 + signal when stopped.

The stages, one module each: the data (run_data.py), the model and its optimizer (training_state.py), the
epochs (loop.py, validating with validation.py), and the final scoring (final_report.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Before torch loads its OpenMP runtime: with the default "ACTIVE" policy, idle worker threads spin,
# and where other jobs also use the cores (the shared 2-core dev box) two spinning threads trained at
# 41 images/s where two passive ones reached 321 (one thread: 363). OMP_WAIT_POLICY=ACTIVE overrides.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from .checkpoint import environment, save_checkpoint
from .data import DatasetError
from .distributed import Distributed, init_distributed
from .final_report import final_report
from .interrupt import Stopped, StopRequest
from .labels import LabelError
from .loop import LoopState, TrainingLoop, restore_loop_state
from .objective import Objective, class_weights
from .progress import Progress, log
from .run_data import RunData, load_run_data
from .run_record import RunRecord
from .step import Stepper, amp_dtype
from .train_args import parse_args
from .training_state import build_training_state
from .validation import selection_metric

RUN_FILES = ("history.jsonl", "history.json", "metrics.json", "best.pt", "last.pt")
EXIT_BAD_INPUT = 2


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


def prepare_run_folder(args: argparse.Namespace, is_main: bool) -> Path:
    """<out>, checked against --resume/--overwrite; a fresh run starts with none of a previous run's files."""
    out = Path(args.out)
    if (out / "last.pt").exists() and not (args.resume or args.overwrite):
        raise SystemExit(f"error: {out} already holds a run (hint: --resume to continue, --overwrite to restart)")
    if args.resume and not (out / "last.pt").exists():
        raise SystemExit(f"error: --resume but {out / 'last.pt'} does not exist")
    out.mkdir(parents=True, exist_ok=True)
    if not args.resume and is_main:  # --overwrite: nothing of the previous run may leak into this one's files
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    return out


@dataclass
class RunContext:
    """What every stage of one process's run needs: its place in a torchrun group, the run folder, the
    progress stream, and the numeric settings of the device."""

    ddp: Distributed
    out: Path
    progress: Progress
    dtype: torch.dtype | None  # autocast dtype (CUDA) or None
    memory_format: torch.memory_format


def open_run(args: argparse.Namespace) -> RunContext:
    """Join torchrun if started by it, check the run folder, seed every generator, set the device up."""
    ddp = init_distributed(args.device, pick_device)  # under torchrun: this rank's place; else a world of one
    ddp.check_batch(args.batch_size)
    out = prepare_run_folder(args, ddp.is_main)
    progress = Progress(args.progress or out / "progress.jsonl", enabled=ddp.is_main, fresh=not args.resume)
    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    if ddp.device.type == "cuda":
        torch.backends.cudnn.benchmark = not args.deterministic
        torch.backends.cudnn.deterministic = args.deterministic
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    return RunContext(ddp, out, progress, amp_dtype(args.amp, ddp.device), memory_format)


def data_stage(args: argparse.Namespace, ctx: RunContext) -> RunData:
    ctx.progress.event("stage", stage="data")
    t0 = time.time()
    data = load_run_data(args, ctx.ddp.device)
    log(f"data ready in {time.time() - t0:.1f} s")
    sources = data.info["sources"]
    ctx.progress.event(
        "data",
        sources=[s["name"] for s in sources],
        counts=data.info["counts"],
        dropped={s["name"]: s["dropped_faces"] for s in sources},
    )
    return data


def model_stage(args: argparse.Namespace, ctx: RunContext, data: RunData, stop: StopRequest) -> TrainingLoop:
    """The network, its objective and optimizer, restored from last.pt with --resume: the loop ready to run."""
    ctx.progress.event("stage", stage="model")
    ddp, device = ctx.ddp, ctx.ddp.device
    steps_per_epoch = max(1, len(data.train) // args.batch_size)  # drop the ragged last batch: BN needs samples
    state = build_training_state(args, data.labels, ddp, steps_per_epoch, ctx.dtype, ctx.memory_format)
    weights = class_weights(data.train.labels, len(data.labels.names)).to(device) if args.balance else None
    objective = Objective(data.labels, args.label_smoothing, weights)
    stepper = Stepper(
        ddp.wrap(state.model),
        state.optimizer,
        state.scheduler,
        state.scaler,
        state.ema,
        state.augmenter,
        device,
        amp=ctx.dtype,
        memory_format=ctx.memory_format,
        objective=objective,
    )
    select = selection_metric(args.select, data.labels)
    hyper = {k: v for k, v in vars(args).items() if k not in ("resume", "overwrite")}
    hyper.update(
        augment_config=state.augment_config.to_dict() if args.augment else None,
        steps_per_epoch=steps_per_epoch,
        amp=str(ctx.dtype).replace("torch.", "") if ctx.dtype else "off",
        parameters=state.parameters,
        distributed=ddp.describe(args.batch_size),
        select_metric=select,
    )
    at = LoopState()
    if args.resume:
        last = torch.load(ctx.out / "last.pt", map_location="cpu", weights_only=False)
        at = restore_loop_state(last, ctx.out, state, ddp, args.seed)
        # last.pt's history is the truth: a crash between saving it and logging must not drop a line.
        if ddp.is_main:
            (ctx.out / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in at.history))
        log(f"resumed after epoch {at.start_epoch} (best val {select} {at.best_key[0]:.4f} at epoch {at.best_epoch})")
    env = environment(device)
    record = RunRecord(hyper, env, state.config, data.info, data.labels)
    log(f"{state.parameters} parameters, {steps_per_epoch} steps/epoch on {env['device_name']}, amp {hyper['amp']}")
    # The loop saves through this module's save_checkpoint, looked up at each call, so that a test (or
    # the torchrun resume harness) can intercept a save by patching faceedge_train.train.save_checkpoint.
    return TrainingLoop(
        args,
        ddp,
        ctx.out,
        data,
        state,
        stepper,
        objective,
        record,
        ctx.progress,
        stop,
        lambda path, ckpt: save_checkpoint(path, ckpt),
        ctx.dtype,
        ctx.memory_format,
        select,
        steps_per_epoch,
        at,
    )


def run(args: argparse.Namespace, stop: StopRequest | None = None) -> dict:
    """Train as `args` says; returns the final checkpoint dict (also written to <out>/best.pt).

    stop: the SIGINT/SIGTERM handling the loop honours (main installs it; None: a run that no signal stops).
    """
    ctx = open_run(args)
    data = data_stage(args, ctx)
    loop = model_stage(args, ctx, data, stop or StopRequest())
    at = loop.at
    ctx.progress.event(
        "start",
        run=str(ctx.out.resolve()),
        labels=list(data.labels.names),
        ordered=data.labels.ordered,
        epochs=args.epochs,
        steps_per_epoch=loop.steps_per_epoch,
        start_epoch=at.start_epoch,
        start_step=at.partial["step"] if at.partial else 0,
        resumed=bool(args.resume),
        pid=os.getpid(),
    )
    ctx.progress.event("stage", stage="train")
    loop.run()
    ctx.progress.event("stage", stage="final")
    final = final_report(
        at,
        data.held_out,
        loop.state.config,
        data.labels,
        loop.record,
        ctx.ddp,
        ctx.out,
        lambda path, ckpt: save_checkpoint(path, ckpt),
        args.eval_batch_size,
        ctx.dtype,
        ctx.memory_format,
    )
    ctx.progress.event(
        "done",
        best_epoch=at.best_epoch,
        best=str((ctx.out / "best.pt").resolve()),
        metrics={split: _headline(m) for split, m in final["metrics"].items()},
    )
    ctx.ddp.close()
    return final


def _headline(metrics: dict) -> dict:
    """The numbers a progress display shows for a split."""
    keys = ("n", "accuracy", "macro_recall", "off_by_more_than_one", "ece", "loss")
    return {k: metrics[k] for k in keys if metrics.get(k) is not None}


def main(argv: list[str] | None = None) -> int:
    """The CLI: 0 when the run is done, 2 for bad input (one line per problem on stderr and an `error`
    progress event), 128 + signal when SIGINT/SIGTERM stopped it (resumable with --resume)."""
    args = parse_args(argv)
    with StopRequest() as stop:
        try:
            run(args, stop)
        except (DatasetError, LabelError) as err:
            for line in str(err).splitlines():
                print(f"[train] error: {line}", file=sys.stderr, flush=True)
            _progress_for(args).event("error", message=str(err), hint=getattr(err, "hint", ""))
            return EXIT_BAD_INPUT
        except Stopped as stopped:
            if not stopped.announced:  # stopped before the loop (loading data) or after it (final scoring)
                log(f"{stopped}; --resume continues where last.pt stands")
                _progress_for(args).event(
                    "stopped", signal=stopped.signal_name, resumable=(Path(args.out) / "last.pt").is_file()
                )
            return stopped.exit_status
    return 0


def _progress_for(args: argparse.Namespace) -> Progress:
    """The run's progress target for an event written outside `run` (an error before the loop)."""
    if os.environ.get("RANK", "0") != "0":
        return Progress(None)
    return Progress(args.progress or Path(args.out) / "progress.jsonl") if Path(args.out).is_dir() else Progress(None)


if __name__ == "__main__":
    sys.exit(main())
