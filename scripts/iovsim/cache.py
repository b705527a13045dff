"""On-disk cache of simulation points.

A point is stored under the SHA-256 of what determines its result: the resolved configuration
that `iovsim config` prints, `iovsim --version`, the binary's own SHA-256 (so a rebuild at the same
version never returns stale numbers) and the subcommand. Finding that key costs one `iovsim
config` process, so a second index maps what was asked for (binary, subcommand, the configuration
file's bytes, the overrides) to the key: a sweep that was run before starts no process at all.

Layout under the root ($IOVSIM_CACHE, else $XDG_CACHE_HOME/iovsim, else ~/.cache/iovsim):
    binaries/<binary sha>.json    the binary's --version
    requests/<request sha>        the point key a request resolved to
    points/<key>/                 stats.json, params.yaml, packets.csv or dmabench.csv, meta.json
    tmp/                          points being written (renamed into points/ when complete)
"""

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from . import _worker, core


def default_root():
    env = os.environ.get("IOVSIM_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "iovsim"


def _sha(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _write_atomic(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(text)
    os.replace(tmp, path)


def needed_files(command, packets):
    files = ["stats.json", "params.yaml"]
    if command == "run" and packets:
        files.append("packets.csv")
    if command == "dmabench":
        files.append("dmabench.csv")
    return files


class Cache:
    def __init__(self, root=None):
        self.root = Path(root) if root is not None else default_root()
        for sub in ("binaries", "requests", "points", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @classmethod
    def temporary(cls):
        """A cache that starts empty (for cache=False): points still need a home on disk."""
        return cls(tempfile.mkdtemp(prefix="iovsim-nocache-"))

    # The binary's version, asked once per binary.
    def version(self, binary):
        path = self.root / "binaries" / f"{core.binary_sha256(binary)}.json"
        try:
            return json.loads(path.read_text())["version"]
        except (OSError, ValueError, KeyError):
            pass
        v = core.version(binary)
        _write_atomic(path, json.dumps({"version": v, "binary": binary}))
        return v

    # What was asked for -> point key.
    @staticmethod
    def request_key(binary_sha, command, config_sha, overrides):
        pairs = [[k, _worker.format_value(v)] for k, v in overrides]
        return _sha({"binary": binary_sha, "command": command, "config": config_sha,
                     "overrides": pairs})

    def lookup_request(self, request_key):
        try:
            return (self.root / "requests" / request_key).read_text().strip() or None
        except OSError:
            return None

    def store_request(self, request_key, key):
        _write_atomic(self.root / "requests" / request_key, key + "\n")

    @staticmethod
    def point_key(version, binary_sha, command, resolved, config_given, overrides):
        # Without a configuration file, `iovsim run` starts from its built-in default platform,
        # which `iovsim config` (no file) does not print: there the overrides themselves are part
        # of the key, so two different requests can never share a result.
        pairs = None
        if not config_given:
            pairs = [[k, _worker.format_value(v)] for k, v in overrides]
        return _sha({"version": version, "binary": binary_sha, "command": command,
                     "resolved": resolved, "overrides": pairs})

    # Points.
    def point_dir(self, key):
        return self.root / "points" / key

    def get(self, key, files):
        """The point's directory if it holds every one of `files`, else None."""
        d = self.point_dir(key)
        if all((d / name).is_file() for name in files):
            return d
        return None

    def tmp_dir(self):
        return Path(tempfile.mkdtemp(prefix="point-", dir=self.root / "tmp"))

    def put_dir(self, key, src, meta):
        """Moves a complete point directory `src` (under tmp/) into the cache."""
        src = Path(src)
        (src / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        dest = self.point_dir(key)
        if dest.exists():  # an older entry without a file now wanted, or a concurrent writer
            shutil.rmtree(dest, ignore_errors=True)
        try:
            os.replace(src, dest)
        except OSError:
            if not dest.exists():
                raise
            shutil.rmtree(src, ignore_errors=True)
        return dest

    def put_files(self, key, files, meta):
        """Stores a point returned by a remote worker: {name: bytes}."""
        tmp = self.tmp_dir()
        for name, data in files.items():
            (tmp / os.path.basename(name)).write_bytes(data)
        return self.put_dir(key, tmp, meta)
