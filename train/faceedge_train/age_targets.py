"""Soft training targets for age-band classes from each photo's age in years (--age-targets SIGMA).

A photo labelled 29 sits at the edge of the 20-29 band: a one-hot target says it is as far from 30-44 as a
photo of 21 is, and the model learns band edges sharper than the labels know them (UTKFace's ages are
annotations, often rounded to 5 or 10). With --age-targets, each training crop whose photo has an age
learns the share of a normal distribution N(age + 0.5, SIGMA^2) (a label of 29 means 29.0-29.99 years)
that falls in each band (the first band reaching down to -inf, an open last band such as 60+ up to +inf),
as in label-distribution learning for age. The band with the largest share is always the photo's own
unless SIGMA is large, and crops without an age, or whose age is outside their folder's band, keep the
one-hot target. Label smoothing still applies on top (objective.py).

Where the ages come from: the crops folder's manifest names its photo folder (`source`), whose labels.csv
has an `age` column (groups.crop_ages), as for --age-balance.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from .data import Split
from .datasets.age_bands import band_range
from .groups import crop_ages, photo_key
from .labels import LabelSet


def band_edges(labels: LabelSet) -> list[tuple[float, float]]:
    """[low, high) in years of each band label, in label order; the first starts at -inf. Raises ValueError
    unless the labels are ordered numeric bands."""
    if not labels.ordered:
        raise ValueError("--age-targets needs ordered age-band labels (--ordered)")
    edges = []
    for k, name in enumerate(labels.names):
        low, high = band_range(name)
        edges.append((-math.inf if k == 0 else float(low), math.inf if high is None else float(high + 1)))
    return edges


def _normal_cdf(x: float, mean: float, sigma: float) -> float:
    if math.isinf(x):
        return 0.0 if x < 0 else 1.0
    return 0.5 * (1 + math.erf((x - mean) / (sigma * math.sqrt(2))))


def band_distribution(age: int, edges: list[tuple[float, float]], sigma: float) -> list[float]:
    """The share of N(age + 0.5, sigma^2) in each band."""
    centre = age + 0.5
    return [_normal_cdf(high, centre, sigma) - _normal_cdf(low, centre, sigma) for low, high in edges]


def age_targets(parts: list[tuple[Path, Split]], labels: LabelSet, sigma: float) -> tuple[torch.Tensor, dict[str, int]]:
    """(N, classes) float targets for a run's training crops, part after part as they are concatenated, and
    counts: {"with_age": n, "without_age": n, "age_outside_band": n}. Raises ValueError when no crop has an age."""
    edges = band_edges(labels)
    rows, counts = [], {"with_age": 0, "without_age": 0, "age_outside_band": 0}
    for root, split in parts:
        ages = crop_ages(root)
        for path, label in zip(split.paths, split.labels.tolist(), strict=True):
            one_hot = [0.0] * len(edges)
            one_hot[label] = 1.0
            age = ages.get(photo_key(path))
            if age is None:
                counts["without_age"] += 1
                rows.append(one_hot)
                continue
            low, high = edges[label]
            if not low <= age < high:
                counts["age_outside_band"] += 1
                rows.append(one_hot)
                continue
            counts["with_age"] += 1
            rows.append(band_distribution(age, edges, sigma))
    if counts["with_age"] == 0:
        raise ValueError("--age-targets but no --data folder's photos have a labels.csv with ages")
    return torch.tensor(rows, dtype=torch.float32), counts
