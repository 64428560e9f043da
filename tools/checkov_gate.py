"""``make checkov``: checkov over ``infra/`` (Bicep); fails on any failed check or parse error.

checkov runs from its own virtualenv (``.venv-checkov``, made by the Makefile) because its
pins clash with the app's. Checks are skipped only inline, next to the resource, with the
reason (``// checkov:skip=CKV_...: why``); the summary lists them.

``infra/app/entra.bicep`` is not given to checkov: its parser (pycep) does not know the
``extension`` keyword the Microsoft Graph extension needs, and checkov has no checks for
Microsoft.Graph resources. tests/test_infra.py checks that file's roles instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
NOT_PARSEABLE = ["infra/app/entra.bicep"]


def run_checkov() -> list[dict[str, object]]:
    """checkov's JSON report over infra/, offline (no download of policies or guidelines)."""
    argv = [str(CHECKOV), "--directory", "infra", "--framework", "bicep", "--output", "json",
            "--skip-download", "--compact", "--quiet"]
    for path in NOT_PARSEABLE:
        argv += ["--skip-path", path]
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_NO_OUTPUT_REPORT="1")
    proc = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("checkov did not produce a JSON report") from None
    return report if isinstance(report, list) else [report]


def main() -> int:
    reports = run_checkov()
    failed = 0
    for report in reports:
        summary = report["summary"]
        results = report["results"]
        assert isinstance(summary, dict) and isinstance(results, dict)
        print(f"checkov {report['check_type']}: {summary['passed']} passed, "
              f"{summary['failed']} failed, {summary['skipped']} skipped, "
              f"{summary['parsing_errors']} parsing errors, "
              f"{summary['resource_count']} resources")
        for check in results.get("failed_checks", []):
            print(f"  FAILED {check['check_id']} {check['resource']} "
                  f"({check['file_path']}:{check['file_line_range'][0]}): {check['check_name']}")
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            print(f"  skipped {check['check_id']} {check['resource']}: {reason.strip()}")
        for path in results.get("parsing_errors", []):
            print(f"  PARSE ERROR {path}")
        failed += int(summary["failed"]) + int(summary["parsing_errors"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
