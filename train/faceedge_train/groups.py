"""Per-crop loss weights that even out a source's age bands (--age-balance).

UTKFace's training split has 5,667 faces in their twenties and 929 aged 13-19; CelebA (most of the
crops) has no ages and is mostly 20-40. A model trained on that mix is least accurate on the rare
bands (13-19 and 60+ were the worst groups of the fairness report), so a source whose labels.csv
carries an `age` column can have its rare bands weighted up.

Where the ages come from: a crops folder made by `faceedge dataset prepare` records its photo
folder as `source` in manifest.json, and that folder's labels.csv has `path,label,...,age`; a crop
`train/female/x.png` is the photo `train/female/x.<ext>`. Sources without ages keep weight 1.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path, PurePosixPath

import torch

from .data import Split


def age_band(age: int) -> str:
    """The fairness report's bands (src/evaluation/group-metrics.ts): 13-19, 20-29, ..., 50-59, 60+."""
    if age < 20:
        return "13-19"
    if age >= 60:
        return "60+"
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def photo_key(path: str) -> str:
    """A crop's or a photo's relative path without its extension: how the two are matched."""
    return str(PurePosixPath(path).with_suffix(""))


def crop_ages(crops_root: Path) -> dict[str, int]:
    """Age per crop stem path ("train/female/x") from the photo folder's labels.csv; {} where there is none."""
    manifest = crops_root / "manifest.json"
    if not manifest.is_file():
        return {}
    source = json.loads(manifest.read_text()).get("source")
    labels = Path(source) / "labels.csv" if source else None
    if labels is None or not labels.is_file():
        return {}
    ages = {}
    with open(labels, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("age", "").strip().isdigit():
                ages[photo_key(row["path"])] = int(row["age"])
    return ages


def crop_bands(paths: list[str], ages: dict[str, int]) -> list[str | None]:
    """Each crop's age band; None where its photo has no age."""
    return [age_band(ages[key]) if (key := photo_key(p)) in ages else None for p in paths]


def band_weights(bands: list[str | None], strength: float, cap: float = 4.0) -> torch.Tensor:
    """Weights (len(bands),): a crop in age band b gets (n_largest_band / n_b) ** strength (at most
    `cap`), then the crops with a band are rescaled to a mean weight of 1, so the source as a whole
    keeps its share of the loss. Crops without a band (None) get 1.
    strength 0 changes nothing; 1 makes every band count equally (up to the cap)."""
    counts = Counter(b for b in bands if b is not None)
    weights = torch.ones(len(bands))
    if not counts:
        return weights
    largest = max(counts.values())
    per_band = {b: min(cap, (largest / n) ** strength) for b, n in counts.items()}
    aged = torch.tensor([b is not None for b in bands])
    weights[aged] = torch.tensor([per_band[b] for b in bands if b is not None])
    weights[aged] /= weights[aged].mean()
    return weights


def summarize(bands: list[str | None], weights: torch.Tensor) -> dict[str, dict]:
    """{band: {"crops": n, "weight": w}} for the log and the checkpoint."""
    out: dict[str, dict] = {}
    for band, w in zip(bands, weights.tolist(), strict=False):
        if band is not None:
            entry = out.setdefault(band, {"crops": 0, "weight": round(w, 3)})
            entry["crops"] += 1
    return dict(sorted(out.items()))


def training_weights(parts: list[tuple[Path, Split]], strength: float) -> tuple[torch.Tensor, dict[str, dict]]:
    """Weights for a run's training crops, one part (crops folder root, split) after the other as they are
    concatenated, and {"<folder>/<split>": summarize(...)} for the parts whose photos have ages.
    Raises ValueError when none has."""
    weights, bands = [], {}
    for root, split in parts:
        ages = crop_ages(root)
        part_bands = crop_bands(split.paths, ages)
        weights.append(band_weights(part_bands, strength))
        if ages:
            bands[f"{root.name}/{split.name}"] = summarize(part_bands, weights[-1])
    if not bands:
        raise ValueError("--age-balance but no --data folder's photos have a labels.csv with ages")
    return torch.cat(weights), bands
