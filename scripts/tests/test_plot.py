"""`iovsim.plot` / `python -m iovsim plot DIR`: figures from a sweep directory."""

import struct
import subprocess
import sys

import pytest
from conftest import REPO, SMALL

import iovsim
from iovsim import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_FIGURES = ["rtt_vs_size.png", "latency_cdf.png", "breakdown.png", "exits_per_packet.png",
               "comparison.png"]


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_run_sweep_figures(tmp_path):
    # A mode that cannot run is a failed point the figures leave out.
    df = iovsim.sweep(grid={"vm.mode": ["bare-metal", "no-such-mode"],
                            "workload.size": [64, 1518]},
                      overrides=SMALL, out=tmp_path / "s", jobs=2)
    assert list(df["status"]) == ["ok", "ok", "error", "error"]
    p = subprocess.run([sys.executable, "-m", "iovsim", "plot", str(tmp_path / "s")],
                       cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [str(tmp_path / "s" / f) for f in RUN_FIGURES]
    for name in RUN_FIGURES:
        w, h = png_size(tmp_path / "s" / name)
        assert w >= 400 and h >= 300
        assert (tmp_path / "s" / name).stat().st_size > 10_000  # axes, labels and data
    assert not (tmp_path / "s" / "dma_bandwidth.png").exists()


def test_dmabench_sweep_figure(tmp_path):
    iovsim.sweep(command="dmabench", grid={"iommu.enabled": [False, True]},
                 overrides={"dmabench.count": 100, "dmabench.sizes": [64],
                            "dmabench.ops": ["read"], "dmabench.patterns": ["rand"],
                            "dmabench.windows": ["4KiB", "1MiB"], "dmabench.iommu_sweep": False},
                 out=tmp_path / "d", jobs=2)
    written = iovsim.plot(tmp_path / "d")
    assert written == [tmp_path / "d" / "dma_bandwidth.png"]
    png_size(written[0])
    assert written[0].stat().st_size > 10_000


def test_platform_label_names_config_overrides_and_version():
    label = plots.platform_label({"config": "/x/y/my.yaml", "version": "iovsim 9.9",
                                         "overrides": [["workload.count", "200"]]})
    assert "my.yaml" in label and "workload.count=200" in label and "iovsim 9.9" in label
    assert "built-in default" in plots.platform_label({})


def test_plot_without_a_successful_point_fails(tmp_path):
    iovsim.sweep(grid={"vm.mode": ["no-such-mode"]}, overrides=SMALL, out=tmp_path / "s")
    p = subprocess.run([sys.executable, "-m", "iovsim", "plot", str(tmp_path / "s")],
                       cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 1 and "no successful point" in p.stderr
    with pytest.raises(FileNotFoundError):
        iovsim.plot(tmp_path / "nothing-here")
