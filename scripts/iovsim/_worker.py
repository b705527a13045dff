"""Runs one simulation point in a child process: the part of iovsim that may run on a Dask worker.

Only the standard library is used here, so that `iovsim.sweep(executor="dask")` can ship this
module to the workers by value (cloudpickle): a worker needs the iovsim *binary*, not this Python
package.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

# Files an iovsim subcommand may write into its --out directory that a point keeps.
OUTPUT_FILES = ("stats.json", "params.yaml", "packets.csv", "dmabench.csv")


def format_value(value):
    """A Python value as `--set key=value` expects it: true/false, [a, b], or the text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def set_args(overrides):
    """[("k", v), ...] -> ["--set", "k=v", ...]."""
    args = []
    for key, value in overrides:
        args += ["--set", f"{key}={format_value(value)}"]
    return args


def error_text(returncode, stderr):
    """The simulator's own message (its `iovsim: ...` lines), or how the process ended."""
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    mine = [line for line in lines if line.startswith("iovsim:")]
    if mine:
        return "\n".join(mine)
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        tail = f": {lines[-1]}" if lines else ""
        return f"iovsim killed by signal {name}{tail}"
    if lines:
        return "\n".join(lines[-5:])
    return f"iovsim exited with status {returncode}"


def simulate(binary, command, config, overrides, out_dir, packets=False, timeout=None):
    """Runs `binary command [config] --set ... --out out_dir [--packets]`.

    Returns a dict: ok, returncode, error, stdout, stderr, wall_s, argv.
    """
    argv = [str(binary), command]
    if config is not None:
        argv.append(str(config))
    argv += set_args(overrides)
    argv += ["--out", str(out_dir)]
    if packets and command == "run":
        argv.append("--packets")
    start = time.monotonic()
    try:
        proc = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout
        )
    except FileNotFoundError:
        return dict(ok=False, returncode=None, error=f"iovsim binary not found: {binary}",
                    stdout="", stderr="", wall_s=0.0, argv=argv)
    except PermissionError:
        return dict(ok=False, returncode=None, error=f"iovsim binary not executable: {binary}",
                    stdout="", stderr="", wall_s=0.0, argv=argv)
    except subprocess.TimeoutExpired:
        return dict(ok=False, returncode=None, error=f"timed out after {timeout} s", stdout="",
                    stderr="", wall_s=time.monotonic() - start, argv=argv)
    wall = time.monotonic() - start
    ok = proc.returncode == 0
    error = "" if ok else error_text(proc.returncode, proc.stderr)
    if ok and not os.path.isfile(os.path.join(out_dir, "stats.json")):
        ok, error = False, f"iovsim {command} exited 0 but wrote no stats.json"
    return dict(ok=ok, returncode=proc.returncode, error=error, stdout=proc.stdout,
                stderr=proc.stderr, wall_s=wall, argv=argv)


def find_binary(client_binary):
    """On a worker: $IOVSIM, else the client's path if it exists here, else `iovsim` on PATH."""
    env = os.environ.get("IOVSIM")
    if env:
        return env
    if client_binary and os.path.exists(client_binary):
        return client_binary
    found = shutil.which("iovsim")
    return found or client_binary


def run_remote(client_binary, command, config_name, config_bytes, overrides, packets,
               timeout=None):
    """Entry point of a Dask task: simulate in a temporary directory, return the files' bytes.

    The configuration file travels as bytes (the worker need not share the client's file system)
    and is written under its own name, so that error messages name it as the client would see.
    """
    import socket

    binary = find_binary(client_binary)
    with tempfile.TemporaryDirectory(prefix="iovsim-point-") as tmp:
        config = None
        if config_bytes is not None:
            config = os.path.join(tmp, config_name or "config.yaml")
            with open(config, "wb") as f:
                f.write(config_bytes)
        out_dir = os.path.join(tmp, "out")
        result = simulate(binary, command, config, overrides, out_dir, packets, timeout)
        files = {}
        if result["ok"]:
            for name in OUTPUT_FILES:
                path = os.path.join(out_dir, name)
                if os.path.isfile(path):
                    with open(path, "rb") as f:
                        files[name] = f.read()
        result["files"] = files
        result["host"] = socket.gethostname()
        result["binary"] = binary
        return result
