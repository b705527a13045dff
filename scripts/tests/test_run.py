"""iovsim.run(), its errors, and `python -m iovsim run`."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, SMALL

import iovsim
from iovsim import core


def test_run_returns_the_statistics_the_simulator_wrote(tmp_path):
    r = iovsim.run(overrides=dict(SMALL, **{"workload.size": 128}), out=tmp_path / "r",
                   packets=True)
    on_disk = json.loads((tmp_path / "r" / "stats.json").read_text())
    assert r.stats == on_disk
    assert r.out == tmp_path / "r"
    assert {"stats.json", "params.yaml", "packets.csv"} <= set(r.files)
    # 200 round trips, the first 10 are warm-up: 190 measured.
    assert r["latency_ns.rtt.count"] == 190
    assert r.flat["latency_ns.rtt.p50"] == on_disk["latency_ns"]["rtt"]["p50"]
    assert 0 < r["latency_ns.rtt.p50"] <= r["latency_ns.rtt.p99"] <= r["latency_ns.rtt.max"]
    # The override reached the simulator.
    assert core.parse_bytes(r.params["workload"]["size"]) == 128
    # packets.csv, read independently: its measured rows give the same count and mean.
    pk = r.packets()
    measured = pk[pk["warmup"] == 0]
    assert len(measured) == 190
    assert measured["rtt_ns"].mean() == pytest.approx(r["latency_ns.rtt.mean"], rel=1e-6)


def test_overrides_change_the_result(tmp_path):
    small = iovsim.run(overrides=dict(SMALL, **{"workload.size": 64}), out=tmp_path / "a")
    big = iovsim.run(overrides=dict(SMALL, **{"workload.size": 1518}), out=tmp_path / "b")
    # A 1518 B frame serializes ~30x longer on the 25 Gb/s wire (twice per round trip) and
    # crosses PCIe in more TLPs: the round trip must grow by at least the wire time,
    # 2 * (1518 - 64) * 8 bit / 25 Gb/s = 930 ns.
    assert big["latency_ns.rtt.p50"] - small["latency_ns.rtt.p50"] >= 930


def test_run_accepts_key_value_strings_and_a_temporary_out():
    r = iovsim.run(overrides=["workload.count=200", "workload.warmup=10"])
    assert r.out.is_dir() and (r.out / "stats.json").is_file()
    assert r["latency_ns.rtt.count"] == 190


def test_unknown_key_raises_with_the_cli_message():
    with pytest.raises(iovsim.IovsimError) as e:
        iovsim.run(overrides={"workload.sise": 3})
    assert e.value.returncode == 2
    assert e.value.message.startswith("iovsim: ")
    assert "unknown key 'workload.sise'" in e.value.message
    assert "workload.size" in e.value.message  # the simulator's suggestion travels too
    assert "\n" not in e.value.message


def test_bad_value_raises_naming_the_key():
    with pytest.raises(iovsim.IovsimError) as e:
        iovsim.run(overrides={"pcie.lanes": 3})
    assert e.value.returncode == 2
    assert "pcie.lanes" in e.value.message


def test_missing_binary_is_a_clear_error(tmp_path):
    with pytest.raises(iovsim.IovsimError, match="not found"):
        iovsim.run(iovsim=str(tmp_path / "no-such-iovsim"))


def test_binary_defaults_to_the_checkout_build(monkeypatch, binary):
    monkeypatch.delenv("IOVSIM")
    assert iovsim.default_binary() == str(REPO / "build" / "iovsim")
    monkeypatch.setenv("IOVSIM", binary)
    assert iovsim.default_binary() == binary


def _cli(args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "iovsim"] + args, cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)


def test_cli_run_from_the_repository_root(tmp_path):
    p = _cli(["run", "--set", "workload.count=200", "--set", "workload.warmup=10",
              "--out", str(tmp_path / "o")], cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert "latency_ns.rtt.p50" in p.stdout
    stats = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert stats["latency_ns"]["rtt"]["count"] == 190


def test_cli_run_bad_key_exits_2_with_one_line(tmp_path):
    p = _cli(["run", "--set", "workload.sise=3", "--out", str(tmp_path / "o")], cwd=REPO)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iovsim: ") and "workload.sise" in lines[0]


def test_cli_iovsim_option_wins_over_the_environment(tmp_path, binary):
    env = dict(os.environ, IOVSIM=str(tmp_path / "missing"))
    p = _cli(["run", "--set", "workload.count=200", "--out", str(tmp_path / "o")], REPO, env)
    assert p.returncode == 2 and "not found" in p.stderr
    p = _cli(["run", "--iovsim", binary, "--set", "workload.count=200",
              "--out", str(tmp_path / "o")], REPO, env)
    assert p.returncode == 0, p.stderr


def test_the_venv_imports_the_package_from_scripts(tmp_path):
    # The .pth that scripts/setup writes puts scripts/ on the venv's path: the import works
    # from any directory, not only from where the package happens to be.
    if sys.prefix == sys.base_prefix:
        pytest.skip("not running in the .venv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([sys.executable, "-c", "import iovsim; print(iovsim.__file__)"],
                       cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    assert p.returncode == 0
    assert p.stdout.strip() == str(REPO / "scripts" / "iovsim" / "__init__.py")
