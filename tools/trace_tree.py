"""Print the spans of a ``file`` trace export (``OTEL_TRACES_EXPORTER=file``) as trees.

    python -m tools.trace_tree .local/telemetry/traces.jsonl [--name orgconfig.workflow.run]

One tree per trace whose root span has that name (default: every root), children in start
order, each line the span's name, duration and its orgconfig.* / HTTP attributes.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

SHOWN = ("orgconfig.", "http.request.method", "http.method", "http.response.status_code",
         "http.status_code", "error.type")


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _ms(span: dict[str, Any]) -> float:
    start = datetime.fromisoformat(span["start_time"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(span["end_time"].replace("Z", "+00:00"))
    return (end - start).total_seconds() * 1000


def render(spans: list[dict[str, Any]], root_name: str | None = None) -> list[str]:
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        by_parent.setdefault(span.get("parent_id"), []).append(span)
    for group in by_parent.values():
        group.sort(key=lambda s: s["start_time"])
    lines: list[str] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        attributes = {k: v for k, v in (span.get("attributes") or {}).items()
                      if k.startswith(SHOWN)}
        shown = " ".join(f"{k.removeprefix('orgconfig.')}={v}" for k, v in attributes.items())
        lines.append(f"{'  ' * depth}{span['name']}  {_ms(span):.1f} ms  {shown}".rstrip())
        for child in by_parent.get(span["context"]["span_id"], []):
            walk(child, depth + 1)

    for root in by_parent.get(None, []):
        if root_name is None or root["name"] == root_name:
            walk(root, 0)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--name", help="only traces whose root span has this name")
    parser.add_argument("--first", action="store_true", help="only the first such trace")
    args = parser.parse_args(argv)
    spans = load(args.file)
    if args.first:
        roots = [s for s in spans if s.get("parent_id") is None
                 and (args.name is None or s["name"] == args.name)]
        if not roots:
            print("no such trace", file=sys.stderr)
            return 1
        trace_id = min(roots, key=lambda s: s["start_time"])["context"]["trace_id"]
        spans = [s for s in spans if s["context"]["trace_id"] == trace_id]
    print("\n".join(render(spans, args.name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
