"""What a model's manifest.json must hold: the Python side of the contract the board checks with
src/inference/model-manifest.ts. The export validates every manifest with `manifest_problems` before
writing it, and test/fixtures/manifest holds one valid manifest and a list of invalid changes that both
test suites check, so the two descriptions cannot drift apart.
"""

from __future__ import annotations

import re

SHA256 = re.compile(r"^[0-9a-f]{64}$")
PADDINGS = ("edge", "mirror")
MIN_LABELS, MAX_LABELS = 2, 50  # labels.py's limits
OUTPUT_KINDS = ("sigmoid", "logits")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def manifest_problems(manifest: dict) -> list[str]:
    """Every way `manifest` breaks the contract, as `path: problem` strings (empty when valid)."""
    problems: list[str] = []

    def need(ok: bool, path: str, message: str) -> None:
        if not ok:
            problems.append(f"{path}: {message}")

    need(isinstance(manifest.get("id"), str) and manifest["id"] != "", "id", "a non-empty string")
    labels = manifest.get("labels")
    labels_ok = (
        isinstance(labels, list)
        and MIN_LABELS <= len(labels) <= MAX_LABELS
        and all(isinstance(x, str) and x != "" for x in labels)
        and len(set(labels)) == len(labels)
    )
    need(labels_ok, "labels", f"{MIN_LABELS} to {MAX_LABELS} distinct non-empty strings, in output order")
    output = manifest.get("output")
    # No `output`: a manifest from before N classes, whose model is one sigmoid.
    kind = output.get("kind") if isinstance(output, dict) else "sigmoid" if output is None else None
    need(kind in OUTPUT_KINDS, "output.kind", f"one of {', '.join(OUTPUT_KINDS)}")
    if labels_ok and kind == "sigmoid":
        need(len(labels) == 2, "labels", "two strings [negative, positive] for a sigmoid output")
    if labels_ok and kind == "logits":
        need(len(labels) >= 3, "labels", "three or more for a logits output (two classes use one sigmoid)")
        need(output.get("shape") == [1, len(labels)], "output.shape", f"[1, {len(labels)}]: one logit per label")
        temperature = manifest.get("temperature")
        need(_number(temperature) and temperature > 0, "temperature", "a positive number")
        floor = manifest.get("unsure_floor")
        need(_number(floor) and 0 <= floor < 1, "unsure_floor", "a number in [0, 1)")
        need(manifest.get("threshold") is None, "threshold", "only for a sigmoid output")
    if manifest.get("ordered") is not None:
        need(isinstance(manifest["ordered"], bool), "ordered", "a boolean")
    inp = manifest.get("input")
    if not isinstance(inp, dict):
        problems.append("input: an object")
    else:
        for key in ("width", "height"):
            need(isinstance(inp.get(key), int) and inp[key] > 0, f"input.{key}", "a positive integer")
        need(inp.get("channels") == 3, "input.channels", "3 (RGB)")
        norm = inp.get("normalization")
        if norm is not None:
            need(
                isinstance(norm, dict) and _number(norm.get("mean")) and _number(norm.get("std")) and norm["std"] > 0,
                "input.normalization",
                "{mean, std} with std > 0",
            )
    files = manifest.get("files")
    if not isinstance(files, dict):
        problems.append("files: an object of file entries")
    else:
        for name, entry in files.items():
            path = f"files.{name}"
            if not isinstance(entry, dict):
                problems.append(f"{path}: an object")
                continue
            need(isinstance(entry.get("path"), str), f"{path}.path", "a string")
            need(isinstance(entry.get("dtype"), str), f"{path}.dtype", "a string")
            need(
                isinstance(entry.get("sha256"), str) and bool(SHA256.match(entry["sha256"])),
                f"{path}.sha256",
                "64 lowercase hex digits",
            )
            need(isinstance(entry.get("bytes"), int) and entry["bytes"] > 0, f"{path}.bytes", "a positive integer")
    threshold = manifest.get("threshold")
    if threshold is not None:
        need(_number(threshold) and 0 < threshold < 1, "threshold", "a number in (0, 1)")
    if manifest.get("test_time_flip") is not None:
        need(isinstance(manifest["test_time_flip"], bool), "test_time_flip", "a boolean")
    alignment = manifest.get("alignment")
    if alignment is not None:
        if not isinstance(alignment, dict):
            problems.append("alignment: an object")
        else:
            need(
                isinstance(alignment.get("size"), int) and alignment["size"] > 0, "alignment.size", "a positive integer"
            )
            need(
                _number(alignment.get("sideInEyeDistances")) and alignment["sideInEyeDistances"] > 0,
                "alignment.sideInEyeDistances",
                "a positive number",
            )
            need(_number(alignment.get("centreBelowEyes")), "alignment.centreBelowEyes", "a number")
            if "padding" in alignment:
                need(alignment["padding"] in PADDINGS, "alignment.padding", f"one of {', '.join(PADDINGS)}")
    selftest = manifest.get("selftest")
    if selftest is not None:
        need(
            isinstance(selftest, list)
            and all(
                isinstance(c, dict) and isinstance(c.get("png_base64"), str) and _number(c.get("expected_probability"))
                for c in selftest
            ),
            "selftest",
            "a list of {png_base64, expected_probability}",
        )
        if kind == "logits" and labels_ok and isinstance(selftest, list):
            need(
                all(
                    isinstance(c, dict)
                    and isinstance(c.get("expected_logits"), list)
                    and len(c["expected_logits"]) == len(labels)
                    and all(_number(v) for v in c["expected_logits"])
                    for c in selftest
                ),
                "selftest",
                f"each case with expected_logits: {len(labels)} numbers",
            )
    return problems
