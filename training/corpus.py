"""Builds the training corpus from real Python source installed on this machine.

Sources: the interpreter's standard library, the virtual environment's site-packages (both fixed
by the pinned requirements) and the test suites of the pinned wheels in `extra-sources.lock`. One
package, `networkx`, is held out entirely, and the lock's "eval" wheels (LLM client SDKs) are never
trained on: they are the "real code not in the corpus" on which the model's quote and bracket
behaviour is measured. Agent frameworks and LLM/AI client SDKs are kept out of the corpus
(`EXCLUDED_PACKAGES`: `huggingface_hub` ships LLM inference clients).

Files are deduplicated by content hash and split into train/validation by a hash of their
content, so the split is stable whatever the file order or the machine's paths.
"""

from __future__ import annotations

import hashlib
import json
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from . import sources

HELD_OUT_PACKAGE = "networkx"
EXCLUDED_PACKAGES = {"huggingface_hub"}
MAX_FILE_BYTES = 200_000  # larger files are mostly generated tables, not code people write
VALIDATION_FRACTION = 0.02


@dataclass
class CorpusFile:
    root: str  # "stdlib" | "site-packages" | "wheel:<file>"
    relpath: str
    text: str

    @property
    def is_test(self) -> bool:
        """Under a tests/ folder: the list-rich source the training mixture weighs separately."""
        return "/tests/" in f"/{self.relpath}"

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def source_roots() -> dict[str, Path]:
    paths = sysconfig.get_paths()
    return {"stdlib": Path(paths["stdlib"]), "site-packages": Path(paths["purelib"])}


def _decode_python(raw: bytes) -> str | None:
    if len(raw) == 0 or len(raw) > MAX_FILE_BYTES or b"\x00" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def iter_files(held_out: bool = False) -> list[CorpusFile]:
    """Every usable .py file, sorted by (root, relpath). held_out=True gives only the held-out package."""
    out: list[CorpusFile] = []
    roots = source_roots()
    for name, root in roots.items():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            # the stdlib tree contains the interpreter's own site-packages; the venv's are the ones we pin
            if name == "stdlib" and rel.startswith("site-packages/"):
                continue
            is_held_out = name == "site-packages" and rel.split("/")[0] == HELD_OUT_PACKAGE
            if is_held_out != held_out:
                continue
            if rel.split("/")[0] in EXCLUDED_PACKAGES:
                continue
            try:
                text = _decode_python(path.read_bytes())
            except OSError:
                continue
            if text is not None:
                out.append(CorpusFile(name, rel, text))
    return out


def iter_wheel_files(role: str) -> list[CorpusFile]:
    """The usable .py files of the pinned wheels with this role ("tests" or "eval"), in lock order."""
    out = []
    for wheel in sources.pinned():
        if wheel.role != role:
            continue
        for rel, raw in sources.python_files(wheel):
            text = _decode_python(raw)
            if text is not None:
                out.append(CorpusFile(f"wheel:{wheel.file}", rel, text))
    return out


def split(files: list[CorpusFile]) -> tuple[list[CorpusFile], list[CorpusFile]]:
    """Deduplicate by content and split by content hash into (train, validation)."""
    seen: set[str] = set()
    train, val = [], []
    for f in files:
        sha = f.sha
        if sha in seen:
            continue
        seen.add(sha)
        bucket = int(sha[:8], 16) / 0xFFFFFFFF
        (val if bucket < VALIDATION_FRACTION else train).append(f)
    return train, val


def describe(files: list[CorpusFile]) -> dict:
    listing = "\n".join(f"{f.root}/{f.relpath}" for f in files)
    return {
        "files": len(files),
        "bytes": sum(len(f.text.encode()) for f in files),
        "file_list_sha256": hashlib.sha256(listing.encode()).hexdigest(),
    }


def write_jsonl(files: list[CorpusFile], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for f in files:
            fh.write(json.dumps({"path": f"{f.root}/{f.relpath}", "text": f.text}) + "\n")


def read_jsonl(path: Path) -> list[str]:
    with path.open() as fh:
        return [json.loads(line)["text"] for line in fh]
