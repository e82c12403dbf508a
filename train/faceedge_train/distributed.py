"""Multi-process training under `torchrun` (DistributedDataParallel), kept out of train.py.

    torchrun --nproc_per_node=N -m faceedge_train.train --data ... --out ...

Without torchrun (no WORLD_SIZE in the environment, or WORLD_SIZE=1) `init_distributed` returns a
world of one and every hook below returns its input or does nothing, so a single-process run is
bit-identical to one made before this module existed.

Under torchrun with N processes ("ranks"):

- Backend: NCCL when the device is CUDA (rank r on cuda:LOCAL_RANK), gloo on the CPU.
- Batches: every rank holds the whole (small) train split and draws the same seeded permutation
  each epoch. Global batch k is `order[k*B:(k+1)*B]` exactly as in one process; rank r trains on its
  r-th contiguous B/N slice (`shard`). The slices of a step are disjoint and together are the
  one-process batch, so the class weights (from the whole split's counts) and the balance of what is
  seen are unchanged. Each rank's loss is the mean over its B/N crops and DDP averages the N
  gradients, which is the gradient of the mean over the B crops: `--batch-size` stays the global
  batch, and `--lr` and the schedule (steps per epoch = len(train) // B) mean what they mean in one
  process. No learning-rate scaling happens behind the user's back.
- BatchNorm: per rank (each rank normalizes its B/N crops with their own statistics), not
  SyncBatchNorm. SyncBatchNorm refuses CPU tensors (so gloo runs and the CPU test could not use
  it), and it adds two all-reduces per BN layer (this network has ~50) per step, a latency cost that
  dominates a 0.56 M-parameter model's step; at the recommended 256-crop GPU batch, 2-8 ranks still
  normalize over 32-128 crops each. DDP broadcasts rank 0's running statistics before every forward
  (`broadcast_buffers`), so all ranks carry the same buffers and checkpoints hold rank 0's.
- Randomness: the model starts from `--seed` on every rank (DDP also broadcasts rank 0's weights).
  Augmentation and dropout draw from per-rank streams (`seed_for_rank`): rank 0 keeps the one-process
  seed, rank r > 0 gets a seed derived from (seed, r), so shards are augmented differently and a
  rerun with the same N reproduces the run.
- Validation: before scoring, rank 0's EMA weights and BatchNorm buffers are broadcast
  (`sync_eval_state`), every rank scores the whole val split with them (no wall time is lost: ranks
  would otherwise wait for rank 0), and rank 0's best-epoch decision is broadcast (`agree`), so
  every rank agrees on the best epoch even if a kernel rounded differently.
- Files: only rank 0 writes logs, history and checkpoints (`is_main`). last.pt holds every rank's
  random-generator states (`rank_states`), so `--resume` with the same N continues each rank's stream.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


def seed_for_rank(seed: int, rank: int, salt: int = 0) -> int:
    """Seed of rank `rank`'s augmentation and dropout streams: `seed` itself for rank 0 (and salt 0),
    so one process and rank 0 draw alike; otherwise a 63-bit value mixed from (seed, rank, salt)
    by numpy's SeedSequence, unrelated to seed + 1 (the batch order's generator)."""
    if rank == 0 and salt == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank, salt]).generate_state(2, np.uint64)[0] >> np.uint64(1))


@dataclass
class Distributed:
    """This process's place in the run. world_size 1 (the default): one process, every hook a no-op."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes logs, history and checkpoints."""
        return self.rank == 0

    def describe(self, batch_size: int) -> dict:
        """What the checkpoint's `training.distributed` records."""
        return {"world_size": self.world_size, "backend": self.backend, "per_rank_batch": batch_size // self.world_size}

    def check_batch(self, batch_size: int) -> None:
        """--batch-size is the global batch; it must split evenly over the ranks."""
        if batch_size % self.world_size:
            raise SystemExit(
                f"error: --batch-size {batch_size} does not split over {self.world_size} processes "
                f"(hint: the global batch must be a multiple of --nproc_per_node)"
            )

    def rank_seed(self, seed: int) -> int:
        """This rank's augmentation seed (see seed_for_rank): `seed` itself on rank 0."""
        return seed_for_rank(seed, self.rank)

    def seed_rank(self, seed: int) -> None:
        """Reseed the global torch generators (dropout masks) of ranks > 0; call after building the
        model, which must start alike everywhere."""
        if self.rank > 0:
            torch.manual_seed(seed_for_rank(seed, self.rank))

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module the training step calls: DDP around `model` (gradients averaged in backward),
        or `model` itself in one process. Evaluation and state_dicts keep using the bare model."""
        if not self.enabled:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids, broadcast_buffers=True)

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous 1/N of a global batch of indices (all of it in one process)."""
        if not self.enabled:
            return batch
        return torch.tensor_split(batch, self.world_size)[self.rank]

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum of `tensor` over ranks (a new tensor; `tensor` itself in one process)."""
        if not self.enabled:
            return tensor
        total = tensor.detach().clone()
        dist.all_reduce(total)
        return total

    def sync_eval_state(self, model: nn.Module, ema) -> None:
        """Give every rank rank 0's BatchNorm buffers and EMA weights (the parameters already agree:
        they follow from the same all-reduced gradients), so that all ranks validate the same model."""
        if not self.enabled:
            return
        tensors = list(model.buffers())
        if ema is not None:
            tensors += list(ema.module.state_dict().values())
        _broadcast_in_place(tensors)

    def agree(self, flag: bool) -> bool:
        """Rank 0's value of `flag`, on every rank."""
        if not self.enabled:
            return flag
        value = torch.tensor([1 if flag else 0], device=self.device)
        dist.broadcast(value, 0)
        return bool(value.item())

    def rank_states(self, augmenter, device: torch.device) -> dict:
        """Entries for last.pt's `resume`: every rank's generator states (collective: all ranks call
        it), or nothing in one process, where `resume` already holds this process's states."""
        if not self.enabled:
            return {}
        mine = {
            "augmenter": augmenter.state_dict() if augmenter is not None else None,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        }
        gathered: list = [None] * self.world_size
        dist.all_gather_object(gathered, mine)
        return {"world_size": self.world_size, "ranks": gathered}

    def restore_rank_state(self, resume: dict, augmenter, device: torch.device, seed: int) -> None:
        """After train.py restored `resume`'s top-level (rank 0's) states: give this rank its own.
        A run resumed with another number of processes goes on (same global batch and schedule), but
        ranks without a saved state start fresh streams, so it no longer reproduces the original."""
        saved_world = resume.get("world_size", 1)
        if saved_world != self.world_size and self.is_main:
            print(
                f"[train] warning: last.pt was written by {saved_world} process(es), this run has "
                f"{self.world_size}: training continues but will not reproduce the original run",
                file=sys.stderr,
                flush=True,
            )
        if self.rank == 0:
            return  # rank 0's states are the top-level ones train.py restored
        ranks = resume.get("ranks") or []
        if self.rank < len(ranks):
            state = ranks[self.rank]
            if augmenter is not None and state["augmenter"] is not None:
                augmenter.load_state_dict(state["augmenter"])
            torch.set_rng_state(state["torch_rng"])
            if state["cuda_rng"] is not None and device.type == "cuda":
                torch.cuda.set_rng_state(state["cuda_rng"], device)
            return
        fresh = seed_for_rank(seed, self.rank, salt=resume["epoch"] + 1)
        torch.manual_seed(fresh)
        if augmenter is not None:
            augmenter.generator.manual_seed(fresh)

    def close(self) -> None:
        """Wait for every rank, then leave the process group (end of a successful run)."""
        if self.enabled and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def init_distributed(device_name: str, pick_device: Callable[[str], torch.device]) -> Distributed:
    """Join the torchrun process group if this process was started by torchrun (WORLD_SIZE > 1).

    device_name: --device (auto | cpu | cuda | cuda:N); pick_device: train.py's resolver, used as is
    in one process. Under torchrun a CUDA device is always cuda:LOCAL_RANK with NCCL (an index in
    --device is ignored: every rank would name the same GPU), the CPU uses gloo. The rank's GPU is
    selected before anything touches CUDA, so no rank opens a stray context on GPU 0.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(device=pick_device(device_name))
    if not dist.is_available():
        raise SystemExit("error: this torch build has no torch.distributed (hint: run without torchrun)")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available()):
        if torch.cuda.device_count() <= local_rank:
            raise SystemExit(
                f"error: LOCAL_RANK {local_rank} but torch sees {torch.cuda.device_count()} CUDA "
                f"device(s) (hint: --nproc_per_node at most the GPU count, or --device cpu)"
            )
        torch.cuda.set_device(local_rank)  # NCCL and all_gather_object use the current device
        device, backend = pick_device(f"cuda:{local_rank}"), "nccl"
    else:
        device, backend = pick_device(device_name), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)  # env:// (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE from torchrun)
    return Distributed(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, device=device, backend=backend
    )


def _broadcast_in_place(tensors: Iterable[torch.Tensor]) -> None:
    """Overwrite `tensors` with rank 0's values: one flat broadcast per dtype (channels_last
    weights are not contiguous, which collectives refuse, hence the flatten and copy back)."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for tensor in tensors:
        by_dtype.setdefault(tensor.dtype, []).append(tensor)
    with torch.no_grad():
        for group in by_dtype.values():
            flat = torch.cat([t.detach().reshape(-1) for t in group])
            dist.broadcast(flat, 0)
            for t, chunk in zip(group, flat.split([t.numel() for t in group]), strict=False):
                t.copy_(chunk.view(t.shape))
