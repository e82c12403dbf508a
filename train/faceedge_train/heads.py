"""Small heads on the face embedding (issue 24 §4): a logistic regression or a one-hidden-layer MLP that maps
the shipped embedder's 128-d unit vector to a class (age band, gender), trained in seconds on a CPU.

Where a board runs recognition, the embedding of each face is already paid for; a head then costs one or two
dense layers. The input is standardised with the training set's per-dimension mean and spread, kept in the
module as buffers so an export can fold them into the first layer. Hyper-parameters are chosen on val only
(`select_head`); the loss is the project's softmax cross-entropy (`objective.softmax_loss`): class-balanced
when asked, label smoothing to the neighbouring bands for ordered labels, or soft targets from the photo's
age (`age_targets.band_distribution`) as the 64x64 age model was trained.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .age_targets import band_distribution, band_edges
from .labels import LabelSet
from .metrics import multiclass_metrics
from .objective import class_weights, softmax_loss


@dataclass(frozen=True)
class HeadConfig:
    """kind: `logistic` or `mlp`; hidden: MLP width; weight_decay: AdamW's; smoothing: label smoothing (to the
    neighbours for ordered labels); age_sigma: > 0 learns each face's share of N(age, sigma^2) per band
    instead of its band; balance: classes weighted to count equally."""

    kind: str = "logistic"
    hidden: int = 128
    dropout: float = 0.2
    weight_decay: float = 1e-3
    smoothing: float = 0.1
    age_sigma: float = 0.0
    balance: bool = True
    epochs: int = 40
    batch: int = 256
    lr: float = 3e-3
    seed: int = 0


class EmbeddingHead(nn.Module):
    """(N, D) embeddings → (N, classes) logits: standardise, then Linear (logistic) or Linear-ReLU-Linear."""

    def __init__(self, dims: int, classes: int, kind: str, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        if kind not in ("logistic", "mlp"):
            raise ValueError(f"unknown head kind {kind!r} (logistic or mlp)")
        self.kind = kind
        self.register_buffer("mean", torch.zeros(dims))
        self.register_buffer("scale", torch.ones(dims))
        if kind == "logistic":
            self.layers = nn.Sequential(nn.Linear(dims, classes))
        else:
            self.layers = nn.Sequential(
                nn.Linear(dims, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes)
            )

    def fit_standardisation(self, embeddings: torch.Tensor) -> None:
        self.mean.copy_(embeddings.mean(dim=0))
        self.scale.copy_(1.0 / embeddings.std(dim=0).clamp(min=1e-6))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.layers((embeddings - self.mean) * self.scale)


def soft_age_targets(ages: np.ndarray, label_names: tuple[str, ...], sigma: float) -> torch.Tensor:
    """(N, classes) share of N(age + 0.5, sigma^2) in each band; the first band open below, the last above."""
    edges = band_edges(LabelSet(label_names, ordered=True))
    if (ages < 0).any():
        raise ValueError("age targets need every training face's age")
    return torch.tensor([band_distribution(int(a), edges, sigma) for a in ages], dtype=torch.float32)


def train_head(
    config: HeadConfig,
    embeddings: np.ndarray,
    labels: np.ndarray,
    label_names: tuple[str, ...],
    ordered: bool,
    ages: np.ndarray | None = None,
) -> EmbeddingHead:
    """A head trained with AdamW and a cosine schedule on (N, D) embeddings and (N,) int labels. Deterministic
    for a given config.seed."""
    torch.manual_seed(config.seed)
    x = torch.from_numpy(np.asarray(embeddings, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    classes = len(label_names)
    head = EmbeddingHead(x.shape[1], classes, config.kind, config.hidden, config.dropout)
    head.fit_standardisation(x)
    soft = None
    if config.age_sigma > 0:
        if ages is None:
            raise ValueError("age_sigma needs the faces' ages")
        soft = soft_age_targets(np.asarray(ages), label_names, config.age_sigma)
    weight = class_weights(y, classes) if config.balance else None
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(y) / config.batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    order = torch.Generator().manual_seed(config.seed)
    head.train()
    for _ in range(config.epochs):
        permutation = torch.randperm(len(y), generator=order)
        for start in range(0, len(y), config.batch):
            idx = permutation[start : start + config.batch]
            logits = head(x[idx])
            loss = softmax_loss(
                logits, y[idx], config.smoothing, ordered, weight, soft=None if soft is None else soft[idx]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    head.eval()
    return head


def head_logits(head: EmbeddingHead, embeddings: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return head(torch.from_numpy(np.asarray(embeddings, dtype=np.float32))).numpy().astype(np.float64)


def selection_score(metrics: dict) -> float:
    """What val chooses a head by: accuracy plus macro recall (the issue's two targets, counted equally)."""
    return metrics["accuracy"] + metrics["macro_recall"]


def select_head(
    configs: list[HeadConfig],
    train: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    val: tuple[np.ndarray, np.ndarray],
    label_names: tuple[str, ...],
    ordered: bool,
    log=print,
) -> tuple[HeadConfig, EmbeddingHead, list[dict]]:
    """Trains every config on train ((embeddings, labels, ages)) and keeps the one with the best val
    `selection_score` (the first of equals). Returns it, its head, and every config's val record."""
    best: tuple[float, HeadConfig, EmbeddingHead] | None = None
    records = []
    for config in configs:
        head = train_head(config, *train[:2], label_names, ordered, ages=train[2])
        metrics = multiclass_metrics(val[1], head_logits(head, val[0]), label_names, ordered)
        score = selection_score(metrics)
        record = {"config": asdict(config), "val": _headline(metrics), "score": score}
        records.append(record)
        log(f"[heads] {config.kind} {_describe(config)}: val {record['val']}")
        if best is None or score > best[0]:
            best = (score, config, head)
    if best is None:
        raise ValueError("no head configuration to choose from")
    return best[1], best[2], records


def _headline(metrics: dict) -> dict:
    keys = ("accuracy", "macro_recall", "off_by_more_than_one")
    return {k: round(metrics[k], 4) for k in keys if metrics.get(k) is not None}


def _describe(config: HeadConfig) -> str:
    parts = [f"wd={config.weight_decay:g}", f"smoothing={config.smoothing:g}", f"balance={config.balance}"]
    if config.kind == "mlp":
        parts.insert(0, f"hidden={config.hidden}")
    if config.age_sigma:
        parts.append(f"age_sigma={config.age_sigma:g}")
    return " ".join(parts)
