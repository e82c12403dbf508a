"""The manifest contract, checked against the fixture the TypeScript suite checks too
(test/fixtures/manifest): the valid manifest passes, every invalid change is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from faceedge_train.manifest import manifest_problems

FIXTURES = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "manifest"
VALID = json.loads((FIXTURES / "manifest.json").read_text())
INVALID = json.loads((FIXTURES / "invalid.json").read_text())


def test_the_fixture_manifest_is_valid():
    assert manifest_problems(VALID) == []


def test_the_shipped_manifest_is_valid():
    shipped = Path(__file__).resolve().parents[2] / "models" / "manifest.json"
    assert manifest_problems(json.loads(shipped.read_text())) == []


@pytest.mark.parametrize("change", INVALID, ids=[c["why"] for c in INVALID])
def test_every_invalid_change_is_refused(change):
    manifest = copy.deepcopy(VALID)
    manifest.update(change.get("set", {}))
    if "delete" in change:
        del manifest[change["delete"]]
    assert manifest_problems(manifest), change["why"]
