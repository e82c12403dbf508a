"""A model's classes: their names, their order, and whether that order means something.

The classes come from the data folders' names (`<split>/<label>/*.png`), 2 to 50 of them. Their order
is the order of the model's outputs, recorded in the checkpoint (`labels`, `ordered_labels`) and in the
exported manifest (`labels`, `ordered`):
- by default the folder names sorted (codepoints, as `faceedge dataset prepare` lists them);
- `--labels a,b,c` gives it explicitly (it must name exactly the folders there are);
- `--ordered` says the order is a scale (age bands): metrics then count predictions off by more than one
  step, and the training targets spread their smoothing over neighbouring classes. Without `--labels`,
  ordered labels that all read as numeric ranges (`0-12`, `13-19`, ..., `60+`) are put in numeric order.

Two classes keep the one-logit sigmoid model of the gender classifier (probability of `names[1]`);
three or more get one logit per class (softmax, applied on the board with the manifest's temperature).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .datasets.age_bands import band_range

MIN_LABELS = 2
MAX_LABELS = 50
RESERVED = "unknown"  # what an event says when the model is unsure: no class may be called that


class LabelError(ValueError):
    """The label folders or --labels cannot make a model's classes; the message says what to change."""


@dataclass(frozen=True)
class LabelSet:
    """names: the classes in output order; ordered: the order is a scale (bands)."""

    names: tuple[str, ...]
    ordered: bool = False

    def __post_init__(self) -> None:
        if not MIN_LABELS <= len(self.names) <= MAX_LABELS:
            raise LabelError(
                f"a model needs {MIN_LABELS} to {MAX_LABELS} labels, got {len(self.names)}: {', '.join(self.names)}"
            )
        if len(set(self.names)) != len(self.names):
            raise LabelError(f"a label is named twice in {', '.join(self.names)}")
        for name in self.names:
            if not name or name.startswith(".") or "/" in name or "\\" in name:
                raise LabelError(f"{name!r} cannot be a label (it must be a plain folder name)")
            if name.lower() == RESERVED:
                raise LabelError(
                    f"a label cannot be called {name!r}: events say '{RESERVED}' when the model is unsure "
                    "(hint: rename that folder)"
                )

    @property
    def binary(self) -> bool:
        """Two classes: one sigmoid logit, the probability of names[1]."""
        return len(self.names) == 2

    @property
    def outputs(self) -> int:
        """Width of the model's last layer: 1 logit for two classes, one per class otherwise."""
        return 1 if self.binary else len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def to_record(self) -> dict:
        """What the checkpoint stores: {"labels": [...], "ordered_labels": bool}."""
        return {"labels": list(self.names), "ordered_labels": self.ordered}


GENDER = LabelSet(("female", "male"))  # the shipped model's, and every checkpoint's from before N classes


def from_checkpoint(checkpoint: dict) -> LabelSet:
    """The classes a checkpoint was trained on; checkpoints from before N classes are the gender model's."""
    if "labels" not in checkpoint:
        return GENDER
    return LabelSet(tuple(checkpoint["labels"]), bool(checkpoint.get("ordered_labels", False)))


def label_folders(split_dir: Path) -> list[str]:
    """Sorted names of the label folders of one split folder (hidden folders such as .cache are not labels)."""
    if not split_dir.is_dir():
        return []
    return sorted(e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith("."))


def resolve_labels(found: Iterable[str], explicit: list[str] | None = None, ordered: bool = False) -> LabelSet:
    """The run's classes from the label folder names `found` (any order, repeats allowed).

    explicit: --labels in output order (must name exactly the folders found); ordered: --ordered.
    Raises LabelError with every problem on its own line.
    """
    found = sorted(set(found))
    if explicit:
        missing = [name for name in explicit if name not in found]
        extra = [name for name in found if name not in explicit]
        problems = [f"--labels names {name!r}, but no data folder has a {name}/ folder" for name in missing]
        problems += [f"the data has a {name}/ folder that --labels does not name" for name in extra]
        if problems:
            raise LabelError("\n".join(problems))
        return LabelSet(tuple(explicit), ordered)
    if ordered:
        try:
            found = sorted(found, key=_range_key)
        except ValueError as err:
            raise LabelError(
                f"--ordered: {err}; give the order with --labels a,b,c (hint: folders {', '.join(found)})"
            ) from err
    return LabelSet(tuple(found), ordered)


def _range_key(label: str) -> tuple[int, int]:
    low, high = band_range(label)
    return low, high if high is not None else 1 << 30
