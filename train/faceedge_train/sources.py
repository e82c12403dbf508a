"""A run's crops folders ("sources") as a whole: the cheap checks before anything is decoded, the label
folders they hold, the crop geometry they were made with, and what `faceedge dataset prepare` recorded in
their manifests (the alignment, the photos it could not crop).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .data import MANIFEST, SPLITS, DatasetError, Split, load_split
from .labels import GENDER, label_folders


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
