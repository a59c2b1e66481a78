"""A content-addressed cache for the firmware stage's slow tool runs (Yosys, Verilator builds).

The key of an entry is the SHA-256 of everything the tool's output depends on: the tool's version
string, the exact command/script text and the bytes of every Verilog source it reads (no paths, no
times), so the same design in another run directory or checkout hits the same entry and any change
to the design, the flags or the tool misses. Entries are written into a temporary directory and
renamed into place, so a killed run never leaves a half-written entry. What is cached is only ever
a tool's output; the bit-exact check against the emulator is always rerun on the cached simulator.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path


@functools.cache
def tool_version(tool: str) -> str:
    """``yosys -V`` / ``verilator --version`` / ``g++ --version`` first line (``""`` if absent)."""
    flag = "-V" if tool == "yosys" else "--version"
    try:
        completed = subprocess.run([tool, flag], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return ""
    return (
        (completed.stdout or completed.stderr).splitlines()[0]
        if (completed.stdout or completed.stderr)
        else ""
    )


def content_key(texts: Iterable[str], files: Iterable[Path]) -> str:
    """SHA-256 over ``texts`` then the contents of ``files`` (in the given order), length-prefixed."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode()
        digest.update(len(data).to_bytes(8, "little") + data)
    for path in files:
        data = Path(path).read_bytes()
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


class ToolCache:
    """Entries ``<root>/<kind>/<key>/`` holding named files; ``root=None`` disables the cache."""

    def __init__(self, root: Path | None) -> None:
        self.root = None if root is None else Path(root)

    def lookup(self, kind: str, key: str, names: Iterable[str]) -> Path | None:
        """The entry's directory if it exists with every file in ``names``, else ``None``."""
        if self.root is None:
            return None
        entry = self.root / kind / key
        return entry if entry.is_dir() and all((entry / name).is_file() for name in names) else None

    def store(self, kind: str, key: str, files: Mapping[str, Path]) -> None:
        """Copy ``files`` (name -> path) into a new entry atomically (an existing entry is kept)."""
        if self.root is None:
            return
        entry = self.root / kind / key
        if entry.is_dir():
            return
        staging = self.root / kind / f".{key}.{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        for name, path in files.items():
            shutil.copy2(path, staging / name)
        try:
            os.replace(staging, entry)
        except OSError:  # another run stored the same entry first
            shutil.rmtree(staging, ignore_errors=True)
