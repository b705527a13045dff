"""iovsim.sweep() with the local executor, its cache, failed points and `python -m iovsim sweep`."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, SMALL, Counter, make_wrapper

import iovsim


def test_local_sweep_one_row_per_point_with_statistics(tmp_path):
    df = iovsim.sweep(grid={"workload.size": [64, 128], "sim.seed": [1, 2]}, overrides=SMALL,
                      jobs=2, out=tmp_path / "s")
    assert len(df) == 4
    assert list(df["workload.size"]) == [64, 64, 128, 128]  # the first key varies slowest
    assert list(df["sim.seed"]) == [1, 2, 1, 2]
    assert (df["status"] == "ok").all() and (df["error"] == "").all()
    for col in ("latency_ns.rtt.p50", "latency_ns.rtt.p99", "throughput.gbps",
                "vm_exits.per_packet", "breakdown_ns.wire", "sim.simulated_ns"):
        assert col in df.columns and df[col].notna().all(), col
    # Each row holds what a separate run of the same point gives.
    for _, row in df.iterrows():
        r = iovsim.run(overrides=dict(SMALL, **{"workload.size": row["workload.size"],
                                                "sim.seed": row["sim.seed"]}),
                       out=tmp_path / f"check{row['point']}")
        assert row["latency_ns.rtt.p50"] == r["latency_ns.rtt.p50"]
        assert row["latency_ns.rtt.p99"] == r["latency_ns.rtt.p99"]
        assert row["sim.simulated_ns"] == r["sim.simulated_ns"]
    # DIR/results.csv: the same table, with each point's files under DIR.
    table = pd.read_csv(tmp_path / "s" / "results.csv", keep_default_na=False)
    assert len(table) == 4 and {"status", "error", "workload.size"} <= set(table.columns)
    for d in table["dir"]:
        stats = json.loads((tmp_path / "s" / d / "stats.json").read_text())
        assert stats["latency_ns"]["rtt"]["count"] == 190
        assert (tmp_path / "s" / d / "packets.csv").is_file()


def test_second_sweep_starts_no_process(tmp_path, counting_binary):
    wrapper, counter = counting_binary
    grid = {"workload.size": [64, 128]}
    first = iovsim.sweep(grid=grid, overrides=SMALL, iovsim=wrapper, jobs=2)
    assert counter.count("--version") == 1
    assert counter.count("config") == 2 and counter.count("run") == 2
    assert not first["cached"].any()
    n = len(counter.calls())

    second = iovsim.sweep(grid=grid, overrides=SMALL, iovsim=wrapper, jobs=2)
    assert len(counter.calls()) == n  # nothing started, not even `config` or `--version`
    assert second["cached"].all()
    cols = ["latency_ns.rtt.p50", "latency_ns.rtt.p99", "sim.simulated_ns", "sim.wall_s"]
    pd.testing.assert_frame_equal(first[cols], second[cols])

    # One new value: only that point runs.
    third = iovsim.sweep(grid={"workload.size": [64, 128, 256]}, overrides=SMALL,
                         iovsim=wrapper, jobs=2)
    assert list(third["cached"]) == [True, True, False]
    assert counter.count("config") == 3 and counter.count("run") == 3


def test_cache_keys_on_the_resolved_configuration(tmp_path, counting_binary):
    wrapper, counter = counting_binary
    config = REPO / "platform" / "configs" / "default.yaml"
    iovsim.sweep(config, grid={"workload.size": [128]}, overrides=SMALL, iovsim=wrapper)
    # "128B" is a different request but the same resolved configuration: one `config`, no run.
    df = iovsim.sweep(config, grid={"workload.size": ["128B"]}, overrides=SMALL, iovsim=wrapper)
    assert counter.count("config") == 2 and counter.count("run") == 1
    assert df["cached"].all()


def test_without_a_config_file_different_overrides_never_share_a_result(counting_binary):
    # `iovsim config` without a file prints the parameter defaults, not the built-in platform
    # `iovsim run` starts from; the cache must still tell these two requests apart.
    wrapper, counter = counting_binary
    iovsim.sweep(grid={"workload.size": [64]}, overrides=SMALL, iovsim=wrapper)
    df = iovsim.sweep(grid={"workload.size": [64]}, iovsim=wrapper,
                      overrides=dict(SMALL, **{"vm.mode": "passthrough"}))
    assert not df["cached"].any()
    assert counter.count("run") == 2


def test_a_rebuilt_binary_does_not_reuse_old_results(tmp_path, binary):
    log = tmp_path / "log"
    wrapper = make_wrapper(tmp_path / "bin", binary, log)
    iovsim.sweep(grid={"workload.size": [64]}, overrides=SMALL, iovsim=wrapper)
    with open(wrapper, "a") as f:  # same --version, different bytes: a rebuild
        f.write("# rebuilt\n")
    df = iovsim.sweep(grid={"workload.size": [64]}, overrides=SMALL, iovsim=wrapper)
    assert not df["cached"].any()
    assert Counter(log).count("run") == 2


def test_cache_false_runs_every_point(counting_binary):
    wrapper, counter = counting_binary
    for _ in range(2):
        iovsim.sweep(grid={"workload.size": [64]}, overrides=SMALL, iovsim=wrapper, cache=False)
    assert counter.count("run") == 2


def test_failed_points_are_recorded_and_the_rest_succeed(tmp_path, binary):
    log = tmp_path / "log"
    # workload.size=128 fails when it runs (the wrapper injects it); 10 B is rejected by
    # `iovsim config` already (frames are 64 to 1518 B).
    wrapper = make_wrapper(tmp_path / "bin", binary, log, fail_if="workload.size=128")
    df = iovsim.sweep(grid={"workload.size": [64, 128, 10, 256]}, overrides=SMALL,
                      iovsim=wrapper, jobs=2, out=tmp_path / "s")
    assert list(df["status"]) == ["ok", "error", "error", "ok"]
    assert df.loc[1, "error"] == "iovsim: injected failure for this point"
    assert df.loc[2, "error"].startswith("iovsim: ") and "workload.size" in df.loc[2, "error"]
    assert df.loc[[0, 3], "error"].tolist() == ["", ""]
    assert df.loc[[1, 2], "latency_ns.rtt.p50"].isna().all()
    assert df.loc[[0, 3], "latency_ns.rtt.p50"].notna().all()
    table = pd.read_csv(tmp_path / "s" / "results.csv", keep_default_na=False)
    assert list(table["status"]) == ["ok", "error", "error", "ok"]
    assert table.loc[1, "error"] == "iovsim: injected failure for this point"
    # Failures are not cached: a second sweep retries exactly the failed run.
    runs = Counter(log).count("run")
    iovsim.sweep(grid={"workload.size": [64, 128, 10, 256]}, overrides=SMALL, iovsim=wrapper)
    assert Counter(log).count("run") == runs + 1


def test_dmabench_points(tmp_path):
    df = iovsim.sweep(command="dmabench", grid={"iommu.enabled": [False, True]},
                      overrides={"dmabench.count": 100, "dmabench.sizes": [64],
                                 "dmabench.windows": ["8KiB", "1MiB"], "dmabench.ops": ["read"],
                                 "dmabench.iommu_sweep": False},
                      out=tmp_path / "d", jobs=2)
    assert list(df["status"]) == ["ok", "ok"]
    for _, row in df.iterrows():
        bench = pd.read_csv(tmp_path / "d" / f"points/{row['point']:03d}" / "dmabench.csv")
        assert sorted(bench["window"]) == [8192, 1 << 20]
        assert set(bench["iommu"]) == {"on" if row["iommu.enabled"] else "off"}


def _sweep_cli(args, cwd):
    return subprocess.run([sys.executable, "-m", "iovsim", "sweep"] + args, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)


def test_cli_sweep_file_with_config_beside_it(tmp_path):
    d = tmp_path / "study"
    d.mkdir()
    shutil.copy(REPO / "platform" / "configs" / "default.yaml", d / "plat.yaml")
    (d / "sweep.yaml").write_text(yaml.safe_dump({
        "config": "plat.yaml",
        "grid": {"workload.size": [64, 128], "vm.mode": ["bare-metal", "no-such-mode"]},
        "set": {"workload": {"count": 200, "warmup": 10}},
    }))
    p = _sweep_cli([str(d / "sweep.yaml"), "--out", str(tmp_path / "out"), "--jobs", "2"],
                   cwd=tmp_path)  # not the directory of the sweep file
    assert p.returncode == 0, p.stderr
    assert "2 ok" in p.stdout and "2 failed" in p.stdout
    table = pd.read_csv(tmp_path / "out" / "results.csv", keep_default_na=False)
    assert len(table) == 4
    assert {"status", "error", "workload.size", "vm.mode"} <= set(table.columns)
    ok = table[table["vm.mode"] == "bare-metal"]
    bad = table[table["vm.mode"] == "no-such-mode"]
    assert (ok["status"] == "ok").all() and (pd.to_numeric(ok["latency_ns.rtt.count"]) == 190).all()
    assert (bad["status"] == "error").all() and bad["error"].str.contains("vm.mode").all()
    meta = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert meta["config"] == str(d / "plat.yaml")
    # --strict turns recorded failures into exit status 1 (from the cache: nothing reruns).
    p = _sweep_cli([str(d / "sweep.yaml"), "--out", str(tmp_path / "out2"), "--strict"],
                   cwd=tmp_path)
    assert p.returncode == 1 and "2 failed" in p.stdout


def test_cli_sweep_config_relative_to_the_working_directory(tmp_path):
    (tmp_path / "sweep.yaml").write_text(
        "config: platform/configs/default.yaml\n"
        "grid: {workload.size: [64]}\n"
        "set: {workload.count: 200, workload.warmup: 10}\n")
    p = _sweep_cli([str(tmp_path / "sweep.yaml"), "--out", str(tmp_path / "out")], cwd=REPO)
    assert p.returncode == 0, p.stderr
    meta = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert meta["config"] == str(REPO / "platform" / "configs" / "default.yaml")


@pytest.mark.parametrize("text, message", [
    ("grid: {workload.size: 64}\n", "must map to a list"),
    ("grdi: {workload.size: [64]}\n", "unknown key 'grdi'"),
    ("config: missing.yaml\n", "missing.yaml not found"),
    ("command: lspci\n", "command: must be one of run, dmabench"),
])
def test_cli_sweep_rejects_a_bad_file(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    p = _sweep_cli([str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert p.returncode == 2
    assert message in p.stderr and "bad.yaml" in p.stderr
    assert not (tmp_path / "out").exists()


def test_shipped_sweep_files_load():
    names = sorted(p.name for p in (REPO / "scripts" / "sweeps").glob("*.yaml"))
    assert names == ["interrupts.yaml", "iotlb_window.yaml", "modes_sizes.yaml", "vf_count.yaml"]
    for name in names:
        spec = iovsim.load_sweep_file(REPO / "scripts" / "sweeps" / name)
        assert spec["grid"] and iovsim.expand_grid(spec["grid"])
    vf = iovsim.load_sweep_file(REPO / "scripts" / "sweeps" / "vf_count.yaml")
    assert max(vf["grid"]["nic.num_vfs"]) == 256 and min(vf["grid"]["nic.num_vfs"]) == 1
    assert iovsim.load_sweep_file(REPO / "scripts/sweeps/iotlb_window.yaml")["command"] == \
        "dmabench"
