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
import json
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


def crop_alignment(root: str | os.PathLike) -> dict | None:
    """The crop geometry (`alignment`) that `faceedge dataset prepare` recorded in `<root>/manifest.json`.

    None when the folder has no manifest or the manifest records none (hand-made or synthetic crops).
    """
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        alignment = json.loads(path.read_text()).get("alignment")
    except (ValueError, AttributeError) as err:
        raise DatasetError(f"{path} is not a JSON object: {err}", "re-run `faceedge dataset prepare`") from err
    return alignment if isinstance(alignment, dict) else None


def skipped_faces(root: str | os.PathLike) -> dict[str, int]:
    """How many photos `faceedge dataset prepare` could not make a crop of, by reason ("no face",
    "several faces", "unreadable"), from `<root>/manifest.json`; {} when the folder records none."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return {}
    try:
        skipped = json.loads(path.read_text()).get("skipped") or []
    except (ValueError, AttributeError):
        return {}
    counts: dict[str, int] = {}
    for entry in skipped:
        reason = entry.get("reason", "unknown") if isinstance(entry, dict) else "unknown"
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


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


@dataclass
class Source:
    """One crops folder of a multi-source run: its name (the folder's name) and the splits it has."""

    name: str
    root: Path
    splits: dict[str, Split]
    alignment: dict | None  # the crop geometry its manifest records (None: not recorded)


def check_sources(roots: list[str | os.PathLike]) -> dict[Path, list[str]]:
    """The cheap checks of a run's crops folders, before anything is decoded: {root: splits it has}.

    Raises DatasetError when a folder is missing, two share a name, a folder holds no split at all,
    two folders were cropped with different geometries (see `common_alignment`), or when no folder
    has a train or a val split (a run needs both).
    """
    roots = [Path(root) for root in roots]
    present: dict[Path, list[str]] = {}
    for root in roots:
        if not root.is_dir():
            raise DatasetError(
                f"crops folder {root} does not exist", "create it with `faceedge dataset prepare`, or pass --data"
            )
        present[root] = [name for name in SPLITS if (root / name).is_dir()]
        if not present[root]:
            raise DatasetError(
                f"crops folder {root} has none of the splits {', '.join(SPLITS)}",
                "point --data at folders made by `faceedge dataset prepare`",
            )
    names = [root.name for root in roots]
    if len(set(names)) != len(names):
        raise DatasetError(
            f"two --data folders share a name ({', '.join(names)})",
            "sources are reported by folder name: give each a distinct one",
        )
    for needed in ("train", "val"):
        if not any(needed in splits for splits in present.values()):
            raise DatasetError(f"no --data folder has a {needed} split", f"add a folder with {needed}/<label>/")
    common_alignment({root.name: crop_alignment(root) for root in roots})
    return present


def found_labels(roots: list[str | os.PathLike]) -> list[str]:
    """Every label folder name under any split of any crops folder, sorted (see labels.resolve_labels)."""
    return sorted({name for root in roots for split in SPLITS for name in label_folders(Path(root) / split)})


def load_sources(
    roots: list[str | os.PathLike],
    limit: int | None = None,
    use_cache: bool = True,
    labels: tuple[str, ...] = GENDER.names,
) -> list[Source]:
    """Load every split that each crops folder has (`celeba-extra` may hold only `train`), after
    `check_sources`' cheap checks. labels: the run's classes in output order."""
    present = check_sources(roots)
    # Only now the slow part: decoding every PNG.
    return [
        Source(
            root.name,
            root,
            {name: load_split(root, name, limit, use_cache, labels=labels) for name in present[root]},
            crop_alignment(root),
        )
        for root in present
    ]


def common_alignment(alignments: dict[str, dict | None]) -> dict | None:
    """The one crop geometry of a run's sources (name -> recorded alignment), or None if none records one.

    A model learns the framing of its crops, and the board aligns faces the way the manifest says, so
    sources cropped differently (another --side or --centre-below) would train a model on one framing
    and deploy it with another. Sources without a record (hand-made crops) are not held against it.
    """
    recorded = {name: a for name, a in alignments.items() if a is not None}
    distinct = {json.dumps(a, sort_keys=True) for a in recorded.values()}
    if len(distinct) > 1:
        listed = "; ".join(f"{name}: {json.dumps(a, sort_keys=True)}" for name, a in recorded.items())
        raise DatasetError(
            f"the --data folders were cropped differently ({listed})",
            "run `faceedge dataset prepare` on every source with the same --side, --centre-below and --padding",
        )
    return next(iter(recorded.values()), None)


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
