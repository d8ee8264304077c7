"""Pinned wheels from PyPI whose Python files the corpus uses beyond the installed site-packages.

    python -m training.sources          # download what is missing into .cache/wheels and check hashes

`extra-sources.lock` names each wheel file with its sha256 and a role: "tests" wheels contribute only
their test suites (list-rich code: numpy-style array literals and nested expected values, 5–10× the
nested list closes per MB of ordinary library code), "eval" wheels are never trained on — LLM client
SDKs, kept as real code the model has not seen.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

LOCK = Path(__file__).with_name("extra-sources.lock")
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "wheels"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_24_x86_64", "manylinux_2_28_x86_64", "any")


@dataclass(frozen=True)
class Wheel:
    role: str  # "tests" | "eval"
    file: str
    sha256: str

    @property
    def requirement(self) -> str:
        name, version = self.file.split("-")[:2]
        return f"{name.replace('_', '-')}=={version}"


def pinned() -> list[Wheel]:
    rows = [line.split() for line in LOCK.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [Wheel(*row) for row in rows]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(cache: Path = CACHE) -> None:
    """Download missing wheels (no dependencies, binary only, for CPython 3.11) and verify every hash."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [w for w in pinned() if not (cache / w.file).exists()]
    if missing:
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--python-version",
                "3.11",
                *platforms,
                "-d",
                str(cache),
                *(w.requirement for w in missing),
            ],
            check=True,
        )
    for w in pinned():
        got = _sha256(cache / w.file)
        if got != w.sha256:
            raise SystemExit(f"{cache / w.file}: sha256 {got} does not match {w.sha256} in {LOCK.name}")


def python_files(wheel: Wheel, cache: Path = CACHE) -> list[tuple[str, bytes]]:
    """(path inside the wheel, bytes) of its .py files; for a "tests" wheel only those under a tests/ folder."""
    with zipfile.ZipFile(cache / wheel.file) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".py"))
        if wheel.role == "tests":
            names = [n for n in names if "/tests/" in f"/{n}"]
        return [(n, z.read(n)) for n in names]


if __name__ == "__main__":
    fetch()
    print(f"{len(pinned())} wheels in {CACHE}, hashes verified")
