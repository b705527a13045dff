"""python -m iovsim run|sweep|plot: the Python side of iovsim on the command line."""

import argparse
import sys

from . import core
from .sweep import SweepFileError, load_sweep_file, sweep

SUMMARY_KEYS = ("latency_ns.rtt.count", "latency_ns.rtt.p50", "latency_ns.rtt.p99",
                "latency_ns.rtt.mean", "throughput.packets_per_s", "throughput.gbps",
                "vm_exits.per_packet", "sim.simulated_ns", "sim.wall_s")


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--iovsim", metavar="BIN", default=argparse.SUPPRESS,
                        help="simulator binary (default: $IOVSIM, else <repo>/build/iovsim)")

    p = argparse.ArgumentParser(
        prog="python -m iovsim", parents=[common],
        description="Run iovsim points, sweep parameter grids (locally or on Dask), plot them.")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="{run,sweep,plot}")

    r = sub.add_parser("run", parents=[common], help="run one point and print its statistics")
    r.add_argument("config", nargs="?", help="platform YAML (default: built-in platform)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable; later wins)")
    r.add_argument("--out", help="output directory (default: a new temporary directory)")
    r.add_argument("--packets", action="store_true", help="also write packets.csv")
    r.add_argument("--command", choices=core.COMMANDS, default="run",
                   help="simulator subcommand (default: run)")

    s = sub.add_parser("sweep", parents=[common],
                       help="run every point of SWEEP.yaml's grid; DIR/results.csv")
    s.add_argument("file", metavar="SWEEP.yaml", help="config:, grid:, set:, optional command:")
    s.add_argument("--out", required=True, metavar="DIR",
                   help="results.csv, sweep.json and points/ go here")
    how = s.add_mutually_exclusive_group()
    how.add_argument("--jobs", "-j", type=int, help="simulations at a time (default: CPU count)")
    how.add_argument("--dask", metavar="tcp://HOST:PORT", help="run on this Dask scheduler")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="add to the file's set: (the grid still wins)")
    s.add_argument("--cache", metavar="DIR", help="cache directory (default: $IOVSIM_CACHE, "
                   "else ~/.cache/iovsim)")
    s.add_argument("--no-cache", action="store_true", help="run every point")
    s.add_argument("--timeout", type=float, help="seconds one simulation may take")
    s.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: only on a terminal)")
    s.add_argument("--strict", action="store_true", help="exit 1 if any point failed")
    s.add_argument("--plot", action="store_true", help="then write the figures into DIR")

    g = sub.add_parser("plot", parents=[common], help="write PNG figures for a sweep directory")
    g.add_argument("dir", metavar="DIR", help="a directory written by `sweep`")
    g.add_argument("--out", help="where to write the figures (default: DIR)")
    return p


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def main(argv=None):
    args = _parser().parse_args(argv)
    binary = getattr(args, "iovsim", None)
    try:
        if args.cmd == "run":
            res = core.run(args.config, args.overrides, args.out, command=args.command,
                           packets=args.packets, iovsim=binary)
            flat = res.flat
            for key in SUMMARY_KEYS:
                if key in flat:
                    print(f"{key:28s} {_fmt(flat[key])}")
            print(f"wrote {', '.join(str(p) for p in res.files.values())}")
            return 0

        if args.cmd == "sweep":
            spec = load_sweep_file(args.file)
            overrides = dict(spec["overrides"])
            overrides.update(core.normalize_overrides(args.overrides))
            cache = False if args.no_cache else (args.cache or True)
            df = sweep(spec["config"], spec["grid"], overrides=overrides, command=spec["command"],
                       executor="dask" if args.dask else "local", jobs=args.jobs,
                       scheduler=args.dask, out=args.out, cache=cache, packets=spec["packets"],
                       iovsim=binary, progress=args.progress, timeout=args.timeout)
            ok = int((df["status"] == "ok").sum())
            failed = len(df) - ok
            cached = int(df["cached"].sum())
            print(f"sweep {spec['name']}: {len(df)} points, {ok} ok ({cached} from the cache), "
                  f"{failed} failed; wrote {args.out}/results.csv")
            for _, row in df[df["status"] != "ok"].head(10).iterrows():
                params = ", ".join(f"{k}={row[k]}" for k in spec["grid"])
                print(f"  failed: {params}: {row['error']}", file=sys.stderr)
            if args.plot:
                from .plots import plot

                for path in plot(args.out):
                    print(path)
            return 1 if (args.strict and failed) else 0

        if args.cmd == "plot":
            from .plots import plot

            written = plot(args.dir, args.out)
            if not written:
                print(f"iovsim plot: {args.dir}: no successful point to plot", file=sys.stderr)
                return 1
            for path in written:
                print(path)
            return 0
    except core.IovsimError as e:
        msg = e.message if e.message.startswith("iovsim") else f"iovsim: {e.message}"
        print(msg, file=sys.stderr)
        return 2
    except (SweepFileError, ValueError, FileNotFoundError) as e:
        print(f"iovsim {args.cmd}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
