"""Training throughput of candidate architectures, timing the very step training runs.

    python3 -m faceedge_train.bench [--configs 0.35:2,0.5:2,0.35:1,0.5:1] [--steps 24] [--threads 1]

For each width:stem_stride it builds the model, AdamW, warmup+cosine schedule, EMA and the
augmenter, runs 3 warm-up steps and then `--steps` timed steps of `--batch-size` random crops,
and prints one JSON line: parameters, multiply-accumulates per 64x64 face (what the int8 latency
on the board scales with), wall-clock images/s and images per CPU-second. The last is what to
trust on a shared machine: wall time counts other people's processes, CPU time
(time.process_time, this process only) mostly does not. With --threads 1 the two agree on an idle core.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as train.py does, before torch loads OpenMP

import torch  # noqa: E402

from .augment import Augmenter
from .ema import ModelEma
from .model import FaceClassifier, ModelConfig, parameter_count
from .step import Stepper, amp_dtype, make_optimizer, make_scaler, make_scheduler


def bench_config(
    width: float, stem_stride: int, steps: int, batch_size: int, device: torch.device, channels_last: bool = True
) -> dict:
    """Time `steps` training steps (after 3 untimed ones) and a single-face forward pass."""
    torch.manual_seed(0)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = FaceClassifier(ModelConfig(width=width, stem_stride=stem_stride)).to(device, memory_format=memory_format)
    optimizer = make_optimizer(model, 3e-3, 0.05)
    dtype = amp_dtype("auto", device)
    stepper = Stepper(
        model,
        optimizer,
        make_scheduler(optimizer, steps + 3, 1, 0.01),
        make_scaler(dtype == torch.float16),
        ModelEma(model),
        Augmenter(device=device),
        device,
        dtype,
        memory_format,
    )
    images = torch.randint(0, 256, (batch_size, 64, 64, 3), dtype=torch.uint8, device=device)
    labels = (torch.arange(batch_size, device=device) % 2).float()
    model.train()
    for _ in range(3):
        stepper(images, labels)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        stepper(images, labels)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = steps * batch_size
    return {
        "width": width,
        "stem_stride": stem_stride,
        "parameters": parameter_count(model),
        "batch_size": batch_size,
        "steps": steps,
        "threads": torch.get_num_threads(),
        "channels_last": channels_last,
        "device": str(device),
        "images_per_s": round(n / wall, 1),
        "images_per_cpu_s": round(n / cpu, 1),
        "mmacs_per_face": round(count_macs(FaceClassifier(model.config)) / 1e6, 2),
    }


def count_macs(model: torch.nn.Module, size: int = 64) -> int:
    """Multiply-accumulates of one forward pass on a size x size face (convolutions + linear):
    the cost that the int8 latency on the board scales with, free of this machine's load."""
    macs = 0

    def conv_hook(module, inputs, output):
        nonlocal macs
        k = module.kernel_size[0] * module.kernel_size[1]
        macs += output.numel() * (module.in_channels // module.groups) * k

    def linear_hook(module, inputs, output):
        nonlocal macs
        macs += output.numel() * module.in_features

    handles = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    handles += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, size, size))
    finally:
        for h in handles:
            h.remove()
    return macs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="faceedge_train.bench", description="training throughput per architecture")
    p.add_argument("--configs", default="0.35:2,0.5:2,0.35:1,0.5:1", help="width:stem_stride, comma separated")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for item in args.configs.split(","):
        width, stride = item.split(":")
        result = bench_config(
            float(width), int(stride), args.steps, args.batch_size, torch.device(args.device), args.channels_last
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
