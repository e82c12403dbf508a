"""The age bands of the shipped age model, and how a band label maps to ages.

The labels themselves are the definition the board and `faceedge eval` share: a model's manifest lists
them (`0-12`, `13-19`, ..., `60+`), and `band_range` reads the ages back out of a label, so an anchor
estimate in years is binned exactly as the training photos were.
"""

from __future__ import annotations

import re

AGE_BANDS = ("0-12", "13-19", "20-29", "30-44", "45-59", "60+")
_BAND = re.compile(r"^(\d+)-(\d+)$|^(\d+)\+$")


def band_range(label: str) -> tuple[int, int | None]:
    """(first age, last age) of a band label such as "30-44", (60, None) for "60+". Raises ValueError."""
    match = _BAND.match(label)
    if match is None:
        raise ValueError(f"{label!r} is not an age band (expected 'A-B' or 'A+')")
    if match.group(3) is not None:
        return int(match.group(3)), None
    low, high = int(match.group(1)), int(match.group(2))
    if high < low:
        raise ValueError(f"age band {label!r} ends before it starts")
    return low, high


def band_of(age: int, bands: tuple[str, ...] = AGE_BANDS) -> str | None:
    """The band of `bands` that holds `age` (years), or None when none does (e.g. 5 with no 0-12 band)."""
    for label in bands:
        low, high = band_range(label)
        if age >= low and (high is None or age <= high):
            return label
    return None
