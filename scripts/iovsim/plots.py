"""Figures from a sweep directory (DIR/results.csv, DIR/sweep.json, DIR/points/NNN/).

plot(DIR) writes, for whatever the sweep holds (points that failed are left out):
    rtt_vs_size.png       RTT p50 with bars up to p99 against frame size (or the swept key)
    latency_cdf.png       distribution of per-packet RTTs per mode (from packets.csv)
    breakdown.png         mean time per round trip in each stage, stacked, per mode
    exits_per_packet.png  VM exits per packet per mode (by reason when the simulator reports them)
    comparison.png        the four above on one page
    dma_bandwidth.png     DMA bandwidth against window, IOMMU on and off (dmabench points)
"""

import json
import re
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import core  # noqa: E402

MODE_ORDER = ["bare-metal", "passthrough", "virtio", "emulation"]
STAGE_ORDER = ["guest", "exit", "kvm", "vmm", "vhost", "host_stack", "pcie", "iommu", "memory",
               "nic", "wire", "peer"]


def _human_bytes(n):
    n = int(n)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def _load(sweep_dir):
    sweep_dir = Path(sweep_dir)
    results = sweep_dir / "results.csv"
    if not results.is_file():
        raise FileNotFoundError(f"{results}: no results table (run `python -m iovsim sweep` first)")
    df = pd.read_csv(results, keep_default_na=False, na_values=[""])
    meta = {}
    if (sweep_dir / "sweep.json").is_file():
        meta = json.loads((sweep_dir / "sweep.json").read_text())
    return df, meta


def platform_label(meta):
    """'platform: default.yaml · set: k=v, ... · iovsim 0.1.0' for a figure's footer."""
    config = meta.get("config")
    name = Path(config).name if config else "built-in default platform"
    parts = [f"platform: {name}"]
    if meta.get("overrides"):
        parts.append("set: " + ", ".join(f"{k}={v}" for k, v in meta["overrides"]))
    if meta.get("version"):
        parts.append(meta["version"])
    return "  ·  ".join(parts)


def _footer(fig, meta, extra=""):
    text = platform_label(meta) + (f"  ·  {extra}" if extra else "")
    width = max(60, int(fig.get_figwidth() * 17))  # characters of 7 pt text per line
    lines = textwrap.wrap(text, width)
    fig.text(0.01, 0.005, "\n".join(lines), fontsize=7, color="0.3", va="bottom", ha="left")
    return len(lines)


def _finish(fig, meta, note, top=1.0):
    """Footer (platform, overrides, version) and a layout that leaves room for it."""
    lines = _footer(fig, meta, note)
    bottom = (0.02 + 0.13 * lines) / fig.get_figheight()  # inches of 7 pt lines -> fraction
    fig.tight_layout(rect=(0, bottom, 1, top))


def _natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _params(point_dir):
    import yaml

    with open(point_dir / "params.yaml") as f:
        return core.flatten(yaml.safe_load(f) or {})


def _runs(df, meta, sweep_dir):
    """One row per successful `run` point with mode, size and the statistics."""
    ok = df[(df["status"] == "ok") & (df["dir"].astype(str) != "")]
    rows = []
    for _, r in ok.iterrows():
        d = Path(sweep_dir) / str(r["dir"])
        if not (d / "stats.json").is_file() or (d / "dmabench.csv").is_file():
            continue
        if "latency_ns.rtt.p50" not in r or pd.isna(r.get("latency_ns.rtt.p50")):
            continue
        params = _params(d)
        row = r.to_dict()
        row["_mode"] = str(params.get("vm.mode", "?"))
        row["_size"] = core.parse_bytes(params.get("workload.size", 0))
        row["_dir"] = d
        rows.append(row)
    runs = pd.DataFrame(rows)
    if runs.empty:
        return runs, None, []
    grid_keys = [k for k in (meta.get("grid") or {}) if k in runs.columns]
    varied = [k for k in grid_keys if runs[k].astype(str).nunique() > 1]
    # The x axis: frame size if it varies, else the first numeric swept key, else none.
    if runs["_size"].nunique() > 1:
        x_key = "workload.size"
        runs["_x"] = runs["_size"]
    else:
        x_key = None
        for k in varied:
            if k != "vm.mode" and pd.to_numeric(runs[k], errors="coerce").notna().all():
                x_key = k
                runs["_x"] = pd.to_numeric(runs[k])
                break
        if x_key is None:
            runs["_x"] = runs["_size"]
    series_keys = [k for k in varied if k not in (x_key, "workload.size")]

    def label(row):
        parts = []
        if "vm.mode" not in series_keys:
            parts.append(row["_mode"])
        for k in series_keys:
            parts.append(str(row[k]) if k == "vm.mode" else f"{k.split('.')[-1]}={row[k]}")
        return ", ".join(parts)

    runs["_series"] = runs.apply(label, axis=1)
    mode_rank = {m: i for i, m in enumerate(MODE_ORDER)}
    runs["_rank"] = runs["_mode"].map(lambda m: mode_rank.get(m, len(MODE_ORDER)))
    runs = runs.sort_values(["_rank", "_series", "_x"], kind="stable").reset_index(drop=True)
    return runs, x_key, series_keys


def _series(runs):
    return list(dict.fromkeys(runs["_series"]))


def _x_label(x_key):
    if x_key in (None, "workload.size"):
        return "frame size (B, FCS included)"
    return x_key


def _draw_rtt(ax, runs, x_key):
    for name in _series(runs):
        s = runs[runs["_series"] == name].sort_values("_x")
        p50 = s["latency_ns.rtt.p50"].to_numpy(float) / 1000
        p99 = s["latency_ns.rtt.p99"].to_numpy(float) / 1000
        ax.errorbar(s["_x"], p50, yerr=[np.zeros_like(p50), np.maximum(p99 - p50, 0)],
                    marker="o", capsize=4, label=name)
    xs = runs["_x"].to_numpy(float)
    if x_key not in (None, "workload.size") and xs.min() > 0 and xs.max() / xs.min() >= 16:
        ax.set_xscale("log", base=2)
        ticks = sorted(set(xs))
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlabel(_x_label(x_key))
    ax.set_ylabel("round-trip time (µs)")
    ax.set_title("RTT: p50, bar to p99")
    ax.set_ylim(0, float(np.nanmax(runs["latency_ns.rtt.p99"].to_numpy(float))) / 1000 * 1.1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _x_values(runs):
    return sorted(runs["_x"].unique())


def _draw_cdf(ax, runs, x_value, x_key):
    drawn = False
    for name in _series(runs):
        s = runs[(runs["_series"] == name) & (runs["_x"] == x_value)]
        for _, r in s.iterrows():
            f = r["_dir"] / "packets.csv"
            if not f.is_file():
                continue
            pk = pd.read_csv(f)
            if "warmup" in pk.columns:
                pk = pk[pk["warmup"] == 0]
            rtt = np.sort(pk["rtt_ns"].to_numpy(float)) / 1000
            if len(rtt) == 0:
                continue
            ax.step(rtt, np.arange(1, len(rtt) + 1) / len(rtt), where="post", label=name)
            drawn = True
    what = _human_bytes(x_value) if x_key in (None, "workload.size") else f"{x_key}={x_value:g}"
    ax.set_title(f"RTT distribution, {what}")
    ax.set_xlabel("round-trip time (µs)")
    ax.set_ylabel("fraction of packets ≤ RTT")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    return drawn


def _bar_labels(runs, x_key):
    multi_x = runs["_x"].nunique() > 1
    labels = []
    for _, r in runs.iterrows():
        lab = r["_series"]
        if multi_x:
            if x_key in (None, "workload.size"):
                x = _human_bytes(r["_x"])
            else:
                x = f"{x_key.split('.')[-1]}={r['_x']:g}"
            lab += f"\n{x}"
        labels.append(lab)
    return labels


def _draw_breakdown(ax, runs, x_key):
    stages = [s for s in STAGE_ORDER if f"breakdown_ns.{s}" in runs.columns]
    stages += sorted(c[len("breakdown_ns."):] for c in runs.columns
                     if c.startswith("breakdown_ns.") and c[len("breakdown_ns."):] not in stages)
    stages = [s for s in stages if runs[f"breakdown_ns.{s}"].fillna(0).abs().sum() > 0]
    pos = np.arange(len(runs))
    bottom = np.zeros(len(runs))
    cmap = plt.get_cmap("tab20")
    for i, s in enumerate(stages):
        v = runs[f"breakdown_ns.{s}"].fillna(0).to_numpy(float) / 1000
        ax.bar(pos, v, bottom=bottom, label=s, color=cmap(i % 20))
        bottom += v
    ax.set_xticks(pos)
    ax.set_xticklabels(_bar_labels(runs, x_key), fontsize=7)
    ax.set_ylabel("mean time per round trip (µs)")
    ax.set_title("Where the round trip goes, per stage")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)


def _draw_exits(ax, runs, x_key):
    pos = np.arange(len(runs))
    per_packet = runs.get("vm_exits.per_packet", pd.Series(0, index=runs.index))
    per_packet = per_packet.fillna(0).to_numpy(float)
    reasons = sorted(c for c in runs.columns if c.startswith("vm_exits.by_reason."))
    total = runs.get("vm_exits.total", pd.Series(0, index=runs.index)).fillna(0).to_numpy(float)
    if reasons:
        bottom = np.zeros(len(runs))
        for reason in reasons:
            counts = runs[reason].fillna(0).to_numpy(float)
            share = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
            v = share * per_packet
            ax.bar(pos, v, bottom=bottom, label=reason[len("vm_exits.by_reason."):])
            bottom += v
        ax.legend(fontsize=7, title="exit reason", title_fontsize=7)
    else:
        ax.bar(pos, per_packet, color="tab:red")
    for x, v in zip(pos, per_packet):
        ax.annotate(f"{v:.2f}", (x, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(pos)
    ax.set_xticklabels(_bar_labels(runs, x_key), fontsize=7)
    ax.set_ylim(0, max(1.0, float(np.nanmax(per_packet)) * 1.15 if len(per_packet) else 1.0))
    ax.set_ylabel("VM exits per packet (round trip)")
    ax.set_title("VM exits per packet")
    ax.grid(axis="y", alpha=0.3)


def _save(fig, path):
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _dma(df, meta, sweep_dir):
    ok = df[(df["status"] == "ok") & (df["dir"].astype(str) != "")]
    grid_keys = [k for k in (meta.get("grid") or {}) if k in df.columns]
    frames = []
    for _, r in ok.iterrows():
        f = Path(sweep_dir) / str(r["dir"]) / "dmabench.csv"
        if not f.is_file():
            continue
        t = pd.read_csv(f)
        for k in grid_keys:
            t[k] = r[k]
        frames.append(t)
    if not frames:
        return None, []
    data = pd.concat(frames, ignore_index=True)
    varied = [k for k in grid_keys if data[k].astype(str).nunique() > 1
              and k not in ("iommu.enabled", "dmabench.windows")]
    return data, varied


def _draw_dma(fig, data, varied):
    panels = list(dict.fromkeys(zip(data["op"], data["pattern"])))
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, (op, pattern) in zip(axes, panels):
        d = data[(data["op"] == op) & (data["pattern"] == pattern)]
        lines = {}
        for _, r in d.iterrows():
            on = r["iommu"] == "on"
            parts = [f"IOMMU {'on' if on else 'off'}", f"{int(r['size'])} B"]
            for k in varied:
                if on or not k.startswith("iommu."):  # IOMMU settings mean nothing when it is off
                    parts.append(f"{k.split('.')[-1]}={r[k]}")
            lines.setdefault((on, ", ".join(parts)), {})[int(r["window"])] = r["bandwidth_gbps"]
        order = sorted(lines.items(), key=lambda kv: (not kv[0][0], _natural(kv[0][1])))
        for (on, name), pts in order:
            xs = sorted(pts)
            ax.plot(xs, [pts[x] for x in xs], marker="o" if on else "s",
                    linestyle="-" if on else "--", label=name)
        ax.set_xscale("log", base=2)
        ticks = sorted(d["window"].unique())
        if len(ticks) > 8:
            ticks = ticks[:: int(np.ceil(len(ticks) / 8))]
        ax.set_xticks(ticks)
        ax.set_xticklabels([_human_bytes(t) for t in ticks], rotation=45, fontsize=7)
        ax.set_xlabel("DMA window (log scale)")
        ax.set_title(f"DMA {op}s, {pattern} pattern")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("bandwidth (Gbit/s)")


def plot(sweep_dir, out=None):
    """Writes the figures the sweep in `sweep_dir` supports; returns their paths."""
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out is not None else sweep_dir
    out.mkdir(parents=True, exist_ok=True)
    df, meta = _load(sweep_dir)
    failed = int((df["status"] != "ok").sum()) if len(df) else 0
    note = f"{failed} failed point(s) left out" if failed else ""
    written = []

    runs, x_key, _ = _runs(df, meta, sweep_dir)
    if not runs.empty:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        _draw_rtt(ax, runs, x_key)
        _finish(fig, meta, note, top=1)
        written.append(_save(fig, out / "rtt_vs_size.png"))

        xs = _x_values(runs)
        if len(xs) > 4:
            xs = [xs[0], xs[len(xs) // 3], xs[2 * len(xs) // 3], xs[-1]]
        fig, axes = plt.subplots(1, len(xs), figsize=(5 * len(xs), 4.5), squeeze=False)
        drawn = [_draw_cdf(ax, runs, x, x_key) for ax, x in zip(axes[0], xs)]
        if any(drawn):
            _finish(fig, meta, note, top=1)
            written.append(_save(fig, out / "latency_cdf.png"))
        else:
            plt.close(fig)

        width = max(8, 0.9 * len(runs) + 3)
        fig, ax = plt.subplots(figsize=(width, 5.5))
        _draw_breakdown(ax, runs, x_key)
        _finish(fig, meta, note, top=1)
        written.append(_save(fig, out / "breakdown.png"))

        fig, ax = plt.subplots(figsize=(width, 5))
        _draw_exits(ax, runs, x_key)
        _finish(fig, meta, note, top=1)
        written.append(_save(fig, out / "exits_per_packet.png"))

        fig, axes = plt.subplots(2, 2, figsize=(max(14, width * 1.6), 10))
        _draw_rtt(axes[0, 0], runs, x_key)
        _draw_cdf(axes[0, 1], runs, _x_values(runs)[-1], x_key)
        _draw_breakdown(axes[1, 0], runs, x_key)
        _draw_exits(axes[1, 1], runs, x_key)
        fig.suptitle("bare metal, passthrough, virtio and emulation compared"
                     if runs["_mode"].nunique() > 1 else f"vm.mode {runs['_mode'].iloc[0]}")
        _finish(fig, meta, note, top=0.97)
        written.append(_save(fig, out / "comparison.png"))

    data, varied = _dma(df, meta, sweep_dir)
    if data is not None:
        panels = len(set(zip(data["op"], data["pattern"])))
        fig = plt.figure(figsize=(6 * panels, 5.5))
        _draw_dma(fig, data, varied)
        fig.suptitle("DMA bandwidth against window, IOMMU on and off")
        _finish(fig, meta, note, top=0.96)
        written.append(_save(fig, out / "dma_bandwidth.png"))
    return written
