"""Load a crops folder (`faceedge dataset prepare` output) into memory, with an .npz cache.

Layout: `<root>/{train,val,test}/<label>/*.png`, every file a 64x64 RGB crop, plus
`<root>/manifest.json` (counts, skipped files, detector/aligner provenance). A split is returned
whole as a uint8 tensor (N, 64, 64, 3) HWC plus int64 labels, each the index of its class in the
run's labels (labels.py; the gender model's: 0 = female, 1 = male): 15k crops take 184 MB, small
enough to keep on the training device and index batches from there.

Decoding 15k PNGs takes ~10 s on two cores, so the decoded arrays are cached in
`<root>/.cache/<split>-<key>.npz`. The key hashes the manifest bytes and every file's relative
path, size and mtime, so editing, adding or removing a crop (or re-running prepare) invalidates it;
writing a split's cache deletes that split's older ones (decoding again costs ~3 s).
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .labels import GENDER, label_folders

SPLITS = ("train", "val", "test")
IMAGE_SIZE = 64
MANIFEST = "manifest.json"
CACHE_DIR = ".cache"


class DatasetError(Exception):
    """A crops folder is missing, empty or malformed. `hint` says how to fix it."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(f"{message}" + (f" (hint: {hint})" if hint else ""))
        self.hint = hint


@dataclass
class Split:
    """One split in memory. images: uint8 (N, 64, 64, 3) RGB; labels: int64 (N,), indices into label_names."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    paths: list[str]
    label_names: tuple[str, ...] = GENDER.names

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels, minlength=len(self.label_names)).tolist()
        return {label: int(c) for label, c in zip(self.label_names, counts, strict=True)}


def manifest_sha256(root: str | os.PathLike) -> str | None:
    """sha256 (hex) of `<root>/manifest.json`, or None when the folder has no manifest."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def list_split(
    root: str | os.PathLike, split: str, limit: int | None = None, labels: tuple[str, ...] = GENDER.names
) -> list[tuple[str, int]]:
    """Sorted (relative path, label index) pairs of one split; `labels` are the run's classes in order.

    `limit` keeps at most that many files, spread evenly over each class's sorted list and
    split between classes in proportion to their size, so a limited run sees every class.
    Raises DatasetError when the split folder is missing, holds no PNG, or has a folder that is not a label.
    """
    root = Path(root)
    split_dir = root / split
    if not split_dir.is_dir():
        raise DatasetError(
            f"split folder {split_dir} does not exist", "point --data at the folder made by `faceedge dataset prepare`"
        )
    unknown = [name for name in label_folders(split_dir) if name not in labels]
    if unknown:
        raise DatasetError(
            f"{split_dir} has folders that are not among the labels {', '.join(labels)}: {', '.join(unknown)}",
            "every crops folder of a run must hold the same kind of labels",
        )
    per_class: list[list[str]] = []
    for label in labels:
        class_dir = split_dir / label
        names = sorted(n for n in os.listdir(class_dir) if n.lower().endswith(".png")) if class_dir.is_dir() else []
        per_class.append([f"{split}/{label}/{n}" for n in names])
    total = sum(len(files) for files in per_class)
    if total == 0:
        raise DatasetError(
            f"split {split_dir} has no .png crops in {'/ or '.join(labels)}/",
            "expected <data>/<split>/<label>/*.png",
        )
    if limit is not None and limit < total:
        per_class = [_spread(files, round(limit * len(files) / total)) for files in per_class]
    return [(path, index) for index, files in enumerate(per_class) for path in files]


def _spread(items: list[str], count: int) -> list[str]:
    """`count` items taken at evenly spaced positions (deterministic, not only the first names)."""
    if count >= len(items):
        return items
    positions = np.linspace(0, len(items), num=count, endpoint=False).astype(int)
    return [items[i] for i in positions]


def cache_key(root: str | os.PathLike, files: list[tuple[str, int]]) -> str:
    """Hash of the manifest bytes and each file's (path, label, size, mtime_ns)."""
    root = Path(root)
    digest = hashlib.sha256()
    digest.update((manifest_sha256(root) or "no-manifest").encode())
    for rel, label in files:
        st = (root / rel).stat()
        digest.update(f"{rel}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        if im.size != (IMAGE_SIZE, IMAGE_SIZE):
            raise DatasetError(
                f"{path} is {im.size[0]}x{im.size[1]}, crops must be {IMAGE_SIZE}x{IMAGE_SIZE}",
                "re-run `faceedge dataset prepare`",
            )
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def decode_files(root: str | os.PathLike, files: list[tuple[str, int]], workers: int = 2) -> np.ndarray:
    """Decode PNGs into one uint8 (N, 64, 64, 3) array; PIL releases the GIL, so threads help."""
    root = Path(root)
    out = np.empty((len(files), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)

    def work(i: int) -> None:
        out[i] = _decode(root / files[i][0])

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(work, range(len(files)), chunksize=256))
    return out


def load_split(
    root: str | os.PathLike,
    split: str,
    limit: int | None = None,
    use_cache: bool = True,
    workers: int = 2,
    labels: tuple[str, ...] = GENDER.names,
) -> Split:
    """Load one split fully into memory (see module docstring for layout and cache).

    root: crops folder; split: "train" | "val" | "test"; limit: max images (None = all);
    use_cache: read/write `<root>/.cache/*.npz` (a read-only folder only skips the write);
    workers: PNG decoding threads (default 2); labels: the run's classes in output order.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            f"crops folder {root} does not exist", "create it with `faceedge dataset prepare`, or pass --data"
        )
    files = list_split(root, split, limit, labels)
    indices = np.array([label for _, label in files], dtype=np.int64)
    cache_path = root / CACHE_DIR / f"{split}-{cache_key(root, files)}.npz"
    images = None
    if use_cache and cache_path.is_file():
        try:
            with np.load(cache_path) as cached:
                if np.array_equal(cached["labels"], indices):
                    images = cached["images"]
        except (OSError, ValueError, KeyError) as err:  # a truncated or foreign file: rebuild it
            print(f"[data] ignoring unreadable cache {cache_path}: {err}", file=sys.stderr)
    if images is None:
        images = decode_files(root, files, workers)
        if use_cache:
            _write_cache(cache_path, images, indices)
    return Split(split, torch.from_numpy(images), torch.from_numpy(indices), [rel for rel, _ in files], tuple(labels))


def concat_splits(name: str, splits: list[Split]) -> Split:
    """One split made of several (paths keep their order, each source's after the previous one's)."""
    return Split(
        name,
        torch.cat([s.images for s in splits]),
        torch.cat([s.labels for s in splits]),
        [p for s in splits for p in s.paths],
        splits[0].label_names,
    )


def _write_cache(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write atomically (tmp + rename) so an interrupted run never leaves a half file behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as handle:  # a file object: np.savez would append ".npz" to a name
            np.savez(handle, images=images, labels=labels)
        os.replace(tmp, path)
        # One cache per split: stale ones (older crops, other --limit) would pile up at 184 MB each.
        for old in path.parent.glob(path.name.split("-")[0] + "-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as err:
        print(f"[data] could not write cache {path}: {err}", file=sys.stderr)
