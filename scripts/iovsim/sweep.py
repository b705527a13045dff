"""Parameter sweeps: the cross product of a grid, run in parallel locally or on a Dask cluster."""

import hashlib
import itertools
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import _worker, core
from .cache import Cache, needed_files

# Statistics (flat stats.json names) that go into a sweep's table; the rest stay in stats.json.
MAIN_PREFIXES = ("latency_ns.", "throughput.", "breakdown_ns.", "vm_exits.", "packets.",
                 "iommu.", "sim.")
# Statistics that depend on the machine that ran the simulation, not on the model.
WALL_CLOCK = ("sim.wall_s", "sim.packets_per_wall_s", "sim.host.transactions_per_wall_s")


class SweepFileError(ValueError):
    """A sweep file that cannot be used (the message names the file)."""


def expand_grid(grid):
    """{"a": [1, 2], "b": ["x"]} -> [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}] (first key slowest)."""
    grid = dict(grid or {})
    for key, values in grid.items():
        if not isinstance(values, (list, tuple)):
            raise ValueError(f"grid: {key} must map to a list of values (got {values!r})")
        if len(values) == 0:
            raise ValueError(f"grid: {key} has no values")
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _flatten_map(mapping, where):
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise SweepFileError(f"{where} must be a map of key: value")
    return dict(core.normalize_overrides(mapping))


def load_sweep_file(path):
    """Reads SWEEP.yaml: config:, grid:, set:, optional command: (run|dmabench) and packets:.

    A relative `config:` is looked up relative to the sweep file first, then to the working
    directory. Returns the keyword arguments of sweep() (config, grid, overrides, command,
    packets) plus name.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SweepFileError(f"{path}: cannot read sweep file ({e.strerror})") from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise SweepFileError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise SweepFileError(f"{path}: a sweep file is a map with config:, grid: and set:")
    known = {"config", "grid", "set", "command", "packets", "name", "description"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise SweepFileError(
            f"{path}: unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")
    config = doc.get("config")
    if config is not None:
        config = Path(str(config))
        if not config.is_absolute():
            beside = path.parent / config
            config = beside if beside.exists() else Path.cwd() / config
        if not config.exists():
            raise SweepFileError(
                f"{path}: config: {doc['config']} not found (looked beside the sweep file and in "
                "the working directory)"
            )
        config = str(config.resolve())
    command = doc.get("command", "run")
    if command not in core.COMMANDS:
        raise SweepFileError(
            f"{path}: command: must be one of {', '.join(core.COMMANDS)} (got {command!r})")
    grid = doc.get("grid") or {}
    if not isinstance(grid, dict):
        raise SweepFileError(f"{path}: grid: must be a map of key: [values]")
    grid = _flatten_grid(grid, path)
    try:
        expand_grid(grid)
    except ValueError as e:
        raise SweepFileError(f"{path}: {e}") from None
    overrides = _flatten_map(doc.get("set"), f"{path}: set:")
    packets = doc.get("packets")
    if packets is not None and not isinstance(packets, bool):
        raise SweepFileError(f"{path}: packets: must be true or false")
    return dict(config=config, grid=grid, overrides=overrides, command=command, packets=packets,
                name=doc.get("name") or path.stem)


def _flatten_grid(grid, path, prefix=""):
    out = {}
    for key, values in grid.items():
        if isinstance(values, dict):
            out.update(_flatten_grid(values, path, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = values
    return out


def _progress(total, enabled):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="iovsim sweep", unit="point", file=sys.stderr)


def _main_stats(point_dir):
    with open(Path(point_dir) / "stats.json") as f:
        flat = core.flatten(json.load(f))
    return {k: v for k, v in flat.items() if k.startswith(MAIN_PREFIXES)}


def _copy_point(src, dest):
    dest.mkdir(parents=True, exist_ok=True)
    for p in Path(src).iterdir():
        if not p.is_file():
            continue
        target = dest / p.name
        if target.exists():
            target.unlink()
        try:
            os.link(p, target)  # same file system: no copy
        except OSError:
            shutil.copy2(p, target)


def sweep(config=None, grid=None, *, overrides=None, command="run", executor="local", jobs=None,
          scheduler=None, client=None, out=None, cache=True, packets=None, iovsim=None,
          progress=None, timeout=None):
    """Runs every point of the cross product of `grid` and returns a pandas DataFrame.

    config: platform YAML file (None: the built-in default platform).
    grid: {"workload.size": [64, 512, 1518], "vm.mode": ["bare-metal", "passthrough"]}.
    overrides: fixed overrides for every point (the grid's values win over them).
    command: "run" or "dmabench".
    executor: "local" (at most `jobs` simulations at a time, default: CPU count) or "dask"
        (`scheduler="tcp://host:8786"`, or an existing distributed.Client as `client`).
    out: if given, DIR/results.csv, DIR/sweep.json and DIR/points/NNN/ (each point's files).
    cache: True (default cache directory), a directory, or False (run every point).
    packets: write packets.csv for `run` points (needed by the latency CDF; default True).
    progress: a tqdm bar (None: only when stderr is a terminal).
    timeout: seconds a single simulation may take (None: no limit).

    One row per point: `point`, the grid's parameters, `status` ("ok" or "error"), `error` (the
    simulator's message, empty when ok), the main statistics as flat stats.json names
    (latency_ns.rtt.p50, throughput.gbps, breakdown_ns.<stage>, vm_exits.per_packet, ...),
    `cached` (the result came from the cache), `dir` (the point's files) and `key`.
    A point that fails is recorded, never raised. Bad arguments (no binary, missing config
    file, unknown executor) raise before anything runs.
    """
    import pandas as pd

    if command not in core.COMMANDS:
        raise ValueError(f"command must be one of {', '.join(core.COMMANDS)} (got {command!r})")
    if executor not in ("local", "dask"):
        raise ValueError(f"executor must be 'local' or 'dask' (got {executor!r})")
    if executor == "dask" and scheduler is None and client is None:
        raise ValueError("executor='dask' needs scheduler='tcp://host:port' or client=")
    if packets is None:
        packets = True
    jobs = max(1, int(jobs or os.cpu_count() or 1))

    binary = core.resolve_binary(iovsim)
    core.check_binary(binary)
    if cache is False:
        store = Cache.temporary()
    elif cache is True or cache is None:
        store = Cache()
    else:
        store = Cache(cache)
    bin_sha = core.binary_sha256(binary)
    version = store.version(binary)

    config_bytes = config_sha = config_name = None
    if config is not None:
        config = os.path.abspath(str(config))
        try:
            config_bytes = Path(config).read_bytes()
        except OSError as e:
            raise core.IovsimError(f"iovsim: {config}: cannot read configuration file "
                                   f"({e.strerror})") from None
        config_sha = hashlib.sha256(config_bytes).hexdigest()
        config_name = os.path.basename(config)

    fixed = core.normalize_overrides(overrides)
    grid_points = expand_grid(dict(core.normalize_overrides(grid)))
    files = needed_files(command, packets)

    points = []
    for i, gp in enumerate(grid_points):
        merged = dict(fixed)
        merged.update(gp)
        pairs = list(merged.items())
        points.append(dict(point=i, params=gp, overrides=pairs,
                           request=Cache.request_key(bin_sha, command, config_sha, pairs),
                           key=None, status=None, error="", dir=None, cached=False))

    bar = _progress(len(points), progress)

    def resolve_key(p):
        key = store.lookup_request(p["request"])
        if key is None:
            try:
                resolved = core.resolved_config(config, p["overrides"], binary)
            except core.IovsimError as e:
                return p, None, e.message
            key = Cache.point_key(version, bin_sha, command, resolved, config is not None,
                                  p["overrides"])
            store.store_request(p["request"], key)
        return p, key, ""

    # Phase 1: each point's key (one `iovsim config` for a request never seen before).
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for p, key, err in pool.map(resolve_key, points):
            p["key"] = key
            if err:
                p["status"], p["error"] = "error", err

    # Phase 2: points already in the cache; the rest grouped by key (equal points run once).
    todo = {}
    for p in points:
        if p["status"] == "error":
            if bar:
                bar.update(1)
            continue
        d = store.get(p["key"], files)
        if d is not None:
            p.update(status="ok", dir=str(d), cached=True)
            if bar:
                bar.update(1)
        else:
            todo.setdefault(p["key"], []).append(p)

    def meta_for(p, r):
        return dict(command=command, config=config, overrides=[[k, _worker.format_value(v)]
                    for k, v in p["overrides"]], version=version, binary=binary,
                    binary_sha256=bin_sha, argv=r.get("argv"), wall_s=r.get("wall_s"),
                    host=r.get("host"), created=time.time())

    def finish(group, result_dir, error):
        for p in group:
            if error:
                p.update(status="error", error=error)
            else:
                p.update(status="ok", dir=str(result_dir))
            if bar:
                bar.update(1)

    if todo and executor == "local":
        def run_local(key):
            p = todo[key][0]
            tmp = store.tmp_dir()
            r = _worker.simulate(binary, command, config, p["overrides"], str(tmp), packets,
                                 timeout)
            if not r["ok"]:
                shutil.rmtree(tmp, ignore_errors=True)
                return key, None, r["error"]
            return key, store.put_dir(key, tmp, meta_for(p, r)), ""

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_local, key) for key in todo]
            for fut in as_completed(futures):
                key, d, err = fut.result()
                finish(todo[key], d, err)
    elif todo:
        _run_dask(todo, store, finish, meta_for, binary, command, config_name, config_bytes,
                  packets, timeout, scheduler, client)

    if bar:
        bar.close()

    rows = []
    for p in points:
        row = {"point": p["point"]}
        row.update({k: _cell(v) for k, v in p["params"].items()})
        row["status"] = p["status"]
        row["error"] = p["error"]
        if p["status"] == "ok":
            try:
                row.update(_main_stats(p["dir"]))
            except (OSError, ValueError) as e:
                row["status"], row["error"] = "error", f"cannot read stats.json: {e}"
        row["cached"] = p["cached"]
        row["dir"] = p["dir"] or ""
        row["key"] = p["key"] or ""
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs.update(command=command, config=config, grid=_jsonable(grid),
                    overrides=[[k, _worker.format_value(v)] for k, v in fixed],
                    version=version, binary=binary)

    if out is not None:
        write_results(df, out)
    return df


def _cell(value):
    """A grid value as a table cell (lists as their --set text)."""
    return _worker.format_value(value) if isinstance(value, (list, tuple)) else value


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def write_results(df, out):
    """DIR/results.csv, DIR/sweep.json and DIR/points/NNN/ (the points' files)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    points_dir = out / "points"
    if points_dir.exists():
        shutil.rmtree(points_dir)
    table = df.copy()
    rel = []
    for _, row in table.iterrows():
        if row["status"] == "ok" and row["dir"]:
            dest = points_dir / f"{int(row['point']):03d}"
            _copy_point(row["dir"], dest)
            rel.append(os.path.relpath(dest, out))
        else:
            rel.append("")
    table["dir"] = rel
    table.to_csv(out / "results.csv", index=False)
    meta = dict(df.attrs)
    meta["points"] = len(df)
    meta["ok"] = int((df["status"] == "ok").sum()) if len(df) else 0
    (out / "sweep.json").write_text(json.dumps(_jsonable(meta), indent=1))
    return out / "results.csv"


def _run_dask(todo, store, finish, meta_for, binary, command, config_name, config_bytes, packets,
              timeout, scheduler, client):
    import cloudpickle
    import distributed

    # Ship _worker by value: the workers need the iovsim binary, not this package.
    cloudpickle.register_pickle_by_value(_worker)
    own = client is None
    if own:
        client = distributed.Client(scheduler, timeout="30s")
    try:
        futures = {}
        for key, group in todo.items():
            p = group[0]
            fut = client.submit(_worker.run_remote, binary, command, config_name, config_bytes,
                                p["overrides"], packets, timeout, key=f"iovsim-point-{key}",
                                pure=False)
            futures[fut] = key
        for fut in distributed.as_completed(list(futures)):
            key = futures[fut]
            try:
                r = fut.result()
            except Exception as e:  # the task itself failed (lost worker, ...)
                finish(todo[key], None, f"dask task failed: {type(e).__name__}: {e}")
                continue
            if not r["ok"]:
                finish(todo[key], None, r["error"])
                continue
            finish(todo[key], store.put_files(key, r["files"], meta_for(todo[key][0], r)), "")
    finally:
        if own:
            client.close()
