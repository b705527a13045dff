"""The Dask executor against a real scheduler and two workers on 127.0.0.1."""

import json
import os
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
from conftest import SMALL, Counter, make_wrapper

import iovsim
from iovsim.sweep import WALL_CLOCK


def _dask_cli(role):
    """`dask scheduler` / `dask worker` (Debian 12's python3-distributed), or the old names."""
    if shutil.which("dask"):
        return ["dask", role]
    old = shutil.which(f"dask-{role}")
    if old:
        return [old]
    pytest.fail("neither `dask` nor `dask-scheduler` is installed (python3-distributed)")


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, binary):
    """A scheduler and two single-thread workers. The workers run under the system Python with
    no access to the iovsim package (the task ships by value) and with $IOVSIM pointing at a
    wrapper that logs each simulation they start (and fails any run of 100 B frames)."""
    tmp = tmp_path_factory.mktemp("dask")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IOVSIM")}
    sched_file = tmp / "scheduler.json"
    procs = []
    logs = []
    try:
        procs.append(subprocess.Popen(
            _dask_cli("scheduler") + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(sched_file)],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "scheduler.err", "w"),
            start_new_session=True))
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            assert procs[0].poll() is None, (tmp / "scheduler.err").read_text()
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(2):
            log = tmp / f"worker{i}.log"
            logs.append(Counter(log))
            wenv = dict(env, IOVSIM=make_wrapper(tmp / f"iovsim-worker{i}", binary, log,
                                                 fail_if="workload.size=100"))
            wdir = tmp / f"worker{i}"
            wdir.mkdir()
            procs.append(subprocess.Popen(
                _dask_cli("worker") + [address, "--host", "127.0.0.1", "--nthreads", "1",
                                       "--no-nanny", "--no-dashboard", "--name", f"w{i}",
                                       "--local-directory", str(wdir), "--memory-limit", "0"],
                cwd=wdir, env=wenv, stdout=subprocess.DEVNULL,
                stderr=open(tmp / f"worker{i}.err", "w"), start_new_session=True))
        import distributed

        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, logs
    finally:
        _stop(procs)
        assert all(p.poll() is not None for p in procs)


def test_dask_sweep_matches_the_local_executor(tmp_path, cluster):
    address, worker_logs = cluster
    grid = {"workload.size": [64, 512], "sim.seed": [1, 7]}
    remote = iovsim.sweep(grid=grid, overrides=SMALL, executor="dask", scheduler=address,
                          cache=tmp_path / "remote-cache", out=tmp_path / "remote")
    local = iovsim.sweep(grid=grid, overrides=SMALL, executor="local", jobs=2,
                         cache=tmp_path / "local-cache")
    assert (remote["status"] == "ok").all(), remote["error"].tolist()
    assert (local["status"] == "ok").all()
    # The workers ran the points (through their own $IOVSIM), one process per point.
    assert sum(log.count("run") for log in worker_logs) == 4
    stats = [c for c in local.columns
             if c.split(".")[0] in ("latency_ns", "throughput", "breakdown_ns", "vm_exits",
                                    "packets", "sim") and c not in WALL_CLOCK]
    assert "latency_ns.rtt.p50" in stats and "sim.simulated_ns" in stats
    assert set(stats) <= set(remote.columns)
    pd.testing.assert_frame_equal(remote[["workload.size", "sim.seed"] + stats],
                                  local[["workload.size", "sim.seed"] + stats])
    # The files came back from the workers: packets.csv too.
    table = pd.read_csv(tmp_path / "remote" / "results.csv", keep_default_na=False)
    for d in table["dir"]:
        assert (tmp_path / "remote" / d / "packets.csv").stat().st_size > 0

    # A second sweep is all cache: no task reaches the workers.
    before = sum(len(log.calls()) for log in worker_logs)
    again = iovsim.sweep(grid=grid, overrides=SMALL, executor="dask", scheduler=address,
                         cache=tmp_path / "remote-cache")
    assert again["cached"].all()
    assert sum(len(log.calls()) for log in worker_logs) == before


def test_dask_failed_point_is_recorded_and_the_config_file_travels(tmp_path, cluster):
    address, worker_logs = cluster
    # The workers get the configuration file's bytes, not its path.
    config = tmp_path / "plat.yaml"
    config.write_text("vm:\n  mode: bare-metal\nworkload:\n  count: 200\n  warmup: 10\n")
    df = iovsim.sweep(config, grid={"workload.size": [64, 100]}, executor="dask",
                      scheduler=address, cache=tmp_path / "c", out=tmp_path / "out")
    assert list(df["status"]) == ["ok", "error"]
    assert df.loc[0, "latency_ns.rtt.count"] == 190
    assert df.loc[1, "error"] == "iovsim: injected failure for this point"
    table = pd.read_csv(tmp_path / "out" / "results.csv", keep_default_na=False)
    assert list(table["status"]) == ["ok", "error"]
    assert any("plat.yaml" in c for log in worker_logs for c in log.calls())
