"""Compiled training programs kept in a folder of the user's cache (see
``domain.learning.programs``): a new training process loads them instead of tracing,
lowering and compiling again.

A loaded program must be the one today's code would build, on this machine, so the
store's salt hashes the source of ``domain.learning``, ``XLA_FLAGS`` and the CPU's model
and feature flags; a change to any of them starts a fresh set of entries. Entries are written whole
(temporary file, then rename), so a reader never sees half of one; a damaged entry is
only recompiled. Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import os
import platform
import tempfile
from pathlib import Path

import domain.learning


def _code_and_machine() -> str:
    digest = hashlib.sha256()
    package = Path(domain.learning.__file__).parent
    for source in sorted(package.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    digest.update(platform.machine().encode())
    digest.update(os.environ.get("XLA_FLAGS", "").encode())  # flags change what XLA builds
    try:  # XLA compiles for this CPU's features; an entry from another CPU could crash
        cpu = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        cpu = platform.processor()
    first: dict[str, str] = {}
    for line in cpu.splitlines():
        name = line.split(":", 1)[0].strip()
        if name in ("model name", "flags", "Features"):
            first.setdefault(name, line)
    for name in sorted(first):
        digest.update(first[name].encode())
    return digest.hexdigest()[:16]


class FolderProgramStore:
    """`ProgramStore` on a folder: one file per program."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.salt = _code_and_machine()

    def get(self, key: str) -> bytes | None:
        try:
            return (self.folder / f"{key}.xla").read_bytes()
        except OSError:  # not there yet, or unreadable: compile instead
            return None

    def put(self, key: str, data: bytes) -> None:
        temporary: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp", delete=False) as out:
                temporary = Path(out.name)
                out.write(data)
            os.replace(temporary, self.folder / f"{key}.xla")
        except OSError:  # a full disk or a read-only cache costs only the next compile
            if temporary is not None:
                temporary.unlink(missing_ok=True)
