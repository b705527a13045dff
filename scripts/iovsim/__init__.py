"""iovsim from Python: run simulation points, sweep parameter grids (locally or on a Dask
cluster, cached on disk) and plot the comparisons.

    import iovsim
    r = iovsim.run(overrides={"workload.size": 512})          # one point -> Result
    r["latency_ns.rtt.p50"], r.stats, r.out
    df = iovsim.sweep(grid={"vm.mode": ["bare-metal", "passthrough"],
                            "workload.size": [64, 1518]}, out="out/sweep")
    iovsim.plot("out/sweep")                                   # PNG files in out/sweep

The simulator binary is the checkout's build/iovsim unless $IOVSIM or iovsim=... names another.
`python -m iovsim run|sweep|plot` is the command line (see `python -m iovsim --help`).
"""

from .core import IovsimError, Result, default_binary, resolved_config, run, version
from .sweep import SweepFileError, expand_grid, load_sweep_file, sweep, write_results


def plot(sweep_dir, out=None):
    """Writes the figures for the sweep in `sweep_dir` (PNG); returns their paths."""
    from .plots import plot as _plot

    return _plot(sweep_dir, out)


__all__ = [
    "IovsimError", "Result", "SweepFileError", "default_binary", "expand_grid", "load_sweep_file",
    "plot", "resolved_config", "run", "sweep", "version", "write_results",
]
