"""The training CLI as a driving process sees it: progress events in a file, and real SIGINT/SIGTERM stopping
the run with exit status 128 + signal and a last.pt that --resume picks up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nclass_fixture import make_three_class_crops

TRAIN_DIR = Path(__file__).resolve().parents[1]
WAIT_S = 240  # the loaded shared box can take a minute to import torch and run a first epoch


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def wait_for(path: Path, done, proc: subprocess.Popen) -> list[dict]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        seen = events(path)
        if done(seen):
            return seen
        assert proc.poll() is None, f"the run ended early: {proc.stderr.read()[-3000:]}"
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no such progress within {WAIT_S} s: {seen[-3:]}")


def test_signals_stop_the_run_resumably(tmp_path):
    crops = make_three_class_crops(tmp_path / "crops", ("a", "b", "c"), {"train": 20, "val": 4}, seed=3)
    out = tmp_path / "run"
    progress = out / "progress.jsonl"
    cmd = [sys.executable, "-m", "faceedge_train.train", "--data", str(crops), "--out", str(out)]
    cmd += ["--epochs", "500", "--batch-size", "12", "--threads", "1", "--width", "0.35", "--last-channels", "128"]
    env = dict(os.environ, PYTHONPATH=str(TRAIN_DIR))

    first = subprocess.Popen(cmd, cwd=TRAIN_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(progress, lambda seen: any(e["event"] == "epoch" for e in seen), first)
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=120) == 130
    seen = events(progress)
    assert seen[-1]["event"] == "stopped" and seen[-1]["signal"] == "SIGINT" and seen[-1]["resumable"] is True
    assert [e["event"] for e in seen][:4] == ["stage", "data", "stage", "start"]
    assert '"epoch": 1' in first.stdout.read()  # stdout keeps the plain epoch lines
    stopped = seen[-1]

    second = subprocess.Popen(
        [*cmd, "--resume"], cwd=TRAIN_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    resumed = wait_for(progress, lambda seen: any(e["event"] == "start" and e["resumed"] for e in seen), second)
    start = next(e for e in resumed if e["event"] == "start" and e["resumed"])
    assert (start["start_epoch"], start["start_step"]) == (stopped["epoch"] - 1, stopped["step"])  # where it stopped
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=120) == 143
    assert events(progress)[-1]["event"] == "stopped" and events(progress)[-1]["signal"] == "SIGTERM"
