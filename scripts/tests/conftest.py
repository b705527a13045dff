"""Shared fixtures of the Python tests: the simulator binary, a private cache, small runs, and a
wrapper binary that logs every simulator process it starts."""

import os
import stat
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))  # also when pytest runs outside the venv

# Small runs: 200 round trips, the first 10 left out of the statistics.
SMALL = {"workload.count": 200, "workload.warmup": 10}


def real_binary():
    return os.environ.get("IOVSIM") or str(REPO / "build" / "iovsim")


@pytest.fixture(scope="session")
def binary():
    path = real_binary()
    assert os.access(path, os.X_OK), f"no iovsim binary at {path} (set IOVSIM or build it)"
    return os.path.abspath(path)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch, binary):
    """Every test gets its own empty cache and the binary under test in $IOVSIM."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IOVSIM_CACHE", str(cache))
    monkeypatch.setenv("IOVSIM", binary)
    return cache


def make_wrapper(path, binary, log, fail_if=None):
    """A script that appends its arguments to `log` and execs the real binary. With fail_if,
    a `run` whose arguments contain that text fails with a message instead (exit 3)."""
    lines = ["#!/bin/sh", f'echo "$*" >> "{log}"']
    if fail_if:
        lines += [
            f'case "$*" in "run "*"{fail_if}"*)',
            '  echo "iovsim: injected failure for this point" >&2; exit 3;;',
            "esac",
        ]
    lines.append(f'exec "{binary}" "$@"')
    path.write_text("\n".join(lines) + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


class Counter:
    def __init__(self, log):
        self.log = Path(log)

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def count(self, sub):
        return sum(1 for c in self.calls() if c.split(" ", 1)[0] == sub)


@pytest.fixture
def counting_binary(tmp_path, binary):
    """(wrapper path, Counter) for a wrapper that logs each simulator process it starts."""
    log = tmp_path / "invocations.log"
    return make_wrapper(tmp_path / "iovsim-wrapper", binary, log), Counter(log)


def pytest_configure(config):
    # Debian 12's distributed on its tornado: noise, not a problem of ours.
    config.addinivalue_line("filterwarnings",
                            "ignore:make_current is deprecated:DeprecationWarning")
