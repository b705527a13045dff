"""Running the iovsim simulator from Python: locating the binary, one run, its result."""

import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import _worker

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("run", "dmabench")


class IovsimError(RuntimeError):
    """The simulator rejected its input or failed.

    `message` is the CLI's own one-line message (`iovsim: ...`), `returncode` its exit status
    (2 for bad input), `argv` the command line that was run.
    """

    def __init__(self, message, returncode=None, argv=None, stderr=""):
        super().__init__(message)
        self.message = message
        self.returncode = returncode
        self.argv = list(argv or [])
        self.stderr = stderr


def default_binary():
    """$IOVSIM if set, else the checkout's own build/iovsim."""
    return os.environ.get("IOVSIM") or str(REPO / "build" / "iovsim")


def resolve_binary(iovsim=None):
    """The binary to use: the argument, else $IOVSIM, else <repo>/build/iovsim (absolute path)."""
    path = str(iovsim) if iovsim else default_binary()
    if os.sep not in path:  # a bare name: look it up on PATH
        import shutil

        path = shutil.which(path) or path
    return os.path.abspath(path)


_sha_memo = {}


def binary_sha256(binary):
    """SHA-256 of the binary's bytes (memoized per path, size and modification time)."""
    st = os.stat(binary)
    memo_key = (binary, st.st_size, st.st_mtime_ns, st.st_ino)
    if memo_key not in _sha_memo:
        h = hashlib.sha256()
        with open(binary, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _sha_memo[memo_key] = h.hexdigest()
    return _sha_memo[memo_key]


def check_binary(binary):
    if not os.path.exists(binary):
        raise IovsimError(
            f"iovsim binary not found: {binary} (build it with scripts/setup, or set IOVSIM "
            "or pass iovsim=/path/to/iovsim)"
        )
    if not os.access(binary, os.X_OK):
        raise IovsimError(f"iovsim binary is not executable: {binary}")


def call(binary, args, what=None):
    """Runs `binary args...` and returns stdout; raises IovsimError with the CLI message."""
    argv = [binary] + list(args)
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise IovsimError(f"cannot run {binary}: {e}", argv=argv) from None
    if proc.returncode != 0:
        raise IovsimError(_worker.error_text(proc.returncode, proc.stderr), proc.returncode,
                          argv, proc.stderr)
    return proc.stdout


def normalize_overrides(overrides):
    """A dict, a list of (key, value) pairs or of "key=value" strings -> [(key, value), ...].

    Nested dicts ({"workload": {"size": 64}}) become dotted keys, as in a platform YAML file.
    """
    if overrides is None:
        return []
    items = overrides.items() if hasattr(overrides, "items") else overrides
    out = []
    for item in items:
        if isinstance(item, str):
            if "=" not in item:
                raise ValueError(f"override {item!r} is not key=value")
            key, value = item.split("=", 1)
            out.append((key.strip(), value.strip()))
            continue
        key, value = item
        if isinstance(value, dict):
            out += [(f"{key}.{k}", v) for k, v in normalize_overrides(value)]
        else:
            out.append((str(key), value))
    return out


def flatten(stats, prefix=""):
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat = {}
    for key, value in stats.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


_UNITS = {
    "": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
    "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "kb": 1000, "mb": 10**6, "gb": 10**9,
}


def parse_bytes(value):
    """64, "64", "64B", "4KiB", "4K" -> bytes (int). iovsim's K/M/G on sizes are binary."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {value!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


@dataclass
class Result:
    """One simulation: statistics and the files it wrote."""

    command: str
    out: Path
    stats: dict
    config: str = None
    overrides: list = field(default_factory=list)
    argv: list = field(default_factory=list)
    stdout: str = ""

    @property
    def flat(self):
        """The statistics as flat columns: {"latency_ns.rtt.p50": ..., ...}."""
        return flatten(self.stats)

    @property
    def files(self):
        """Name -> path of every file the run wrote."""
        return {p.name: p for p in sorted(self.out.iterdir()) if p.is_file()}

    @property
    def params(self):
        """The resolved configuration (params.yaml) as a nested dict."""
        import yaml

        with open(self.out / "params.yaml") as f:
            return yaml.safe_load(f)

    def packets(self):
        """packets.csv (written with packets=True) as a pandas DataFrame."""
        import pandas as pd

        return pd.read_csv(self.out / "packets.csv")

    def dmabench(self):
        """dmabench.csv (command="dmabench") as a pandas DataFrame."""
        import pandas as pd

        return pd.read_csv(self.out / "dmabench.csv")

    def __getitem__(self, key):
        """result["latency_ns.rtt.p50"]: a flat statistic."""
        return self.flat[key]


def run(config=None, overrides=None, out=None, *, command="run", packets=False, iovsim=None,
        timeout=None):
    """Runs one simulation: `iovsim COMMAND [config] --set k=v ... --out OUT [--packets]`.

    config: a platform YAML file (None: the built-in default platform).
    overrides: {"workload.size": 512, ...} (or a list of "key=value").
    out: output directory (None: a new temporary directory, kept).
    command: "run" (default) or "dmabench".
    Returns a Result; raises IovsimError carrying the CLI's message if the simulator rejects the
    input or fails.
    """
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {', '.join(COMMANDS)} (got {command!r})")
    binary = resolve_binary(iovsim)
    check_binary(binary)
    pairs = normalize_overrides(overrides)
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"iovsim-{command}-"))
    out.mkdir(parents=True, exist_ok=True)
    config = str(config) if config is not None else None
    r = _worker.simulate(binary, command, config, pairs, str(out), packets, timeout)
    if not r["ok"]:
        raise IovsimError(r["error"], r["returncode"], r["argv"], r["stderr"])
    with open(out / "stats.json") as f:
        stats = json.load(f)
    return Result(command=command, out=out, stats=stats, config=config, overrides=pairs,
                  argv=r["argv"], stdout=r["stdout"])


def version(iovsim=None):
    """`iovsim --version` ("iovsim 0.1.0")."""
    binary = resolve_binary(iovsim)
    check_binary(binary)
    return call(binary, ["--version"]).strip()


def resolved_config(config=None, overrides=None, iovsim=None):
    """`iovsim config [config] --set ...`: the resolved configuration as YAML text."""
    binary = resolve_binary(iovsim)
    check_binary(binary)
    args = ["config"] + ([str(config)] if config is not None else [])
    return call(binary, args + _worker.set_args(normalize_overrides(overrides)))
