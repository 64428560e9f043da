"""What a deployment ships: the project's files minus ``.funcignore``, as publishing builds it.

``func azure functionapp publish`` and ``azd deploy`` zip the project folder, leaving out
every path ``.funcignore`` matches (gitignore semantics). This builds the same file list
(with ``pathspec``'s gitignore implementation), and with ``--zip`` the zip itself, so tests
and people can see what would be deployed::

    .venv/bin/python -m tools.package            # files, count and zipped size
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pathspec

from tools.services import REPO_ROOT

IGNORE_FILE = ".funcignore"


def ignore_spec(root: Path = REPO_ROOT) -> pathspec.PathSpec:
    """The ``.funcignore`` patterns of ``root`` (none when the file is missing)."""
    path = root / IGNORE_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    return pathspec.GitIgnoreSpec.from_lines(lines)


def package_files(root: Path = REPO_ROOT) -> Iterator[str]:
    """Relative POSIX paths of the files a publish would ship, sorted within each folder.

    Excluded folders are not descended into (as with .gitignore, nothing below an
    excluded folder can be brought back), which also keeps the walk fast.
    """
    spec = ignore_spec(root)
    for folder, dirs, files in os.walk(root):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else f"{rel_folder}/"
        dirs[:] = sorted(d for d in dirs if not spec.match_file(f"{prefix}{d}/"))
        for name in sorted(files):
            if not spec.match_file(f"{prefix}{name}"):
                yield f"{prefix}{name}"


def build_zip(root: Path = REPO_ROOT) -> bytes:
    """The deployment zip (deflated), in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in package_files(root):
            archive.write(root / rel, rel)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, help="also write the package to this zip file")
    args = parser.parse_args(argv)
    files = list(package_files())
    for rel in files:
        print(rel)
    data = build_zip()
    raw = sum((REPO_ROOT / rel).stat().st_size for rel in files)
    print(f"{len(files)} files, {raw / 1024:.0f} KiB, zipped {len(data) / 1024:.0f} KiB")
    if args.zip:
        args.zip.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
