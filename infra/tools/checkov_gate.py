r"""Fail the build on checkov's JSON report unless the scan was clean *and* real.

    checkov -d infra --framework terraform --skip-download --soft-fail -o json \\
        | python infra/tools/checkov_gate.py

checkov exits 0 when it cannot parse a file and simply scans less, so a clean exit
proves nothing. This gate fails on any failed check, any parse error, or a scan that
saw no resources, and lists every inline suppression with its reason. Stdlib only.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def reports(document: Any) -> list[dict[str, Any]]:  # noqa: ANN401  # parsed JSON
    """Each framework's report: checkov prints one object, or a list of them."""
    return document if isinstance(document, list) else [document]


def main() -> int:
    """Print a summary; return 1 when the scan failed, was partial, or was empty."""
    raw = sys.stdin.read()
    try:
        document = json.loads(raw)
    except ValueError:
        print(f"checkov did not print a JSON report:\n{raw[-2000:]}", file=sys.stderr)
        return 1
    problems: list[str] = []
    resources = 0
    for report in reports(document):
        summary = report.get("summary", {})
        resources += summary.get("resource_count", 0)
        if summary.get("parsing_errors"):
            problems.append(f"{summary['parsing_errors']} file(s) could not be parsed")
        results = report.get("results", {})
        problems.extend(
            f"FAILED {check['check_id']} {check['resource']} ({check['file_path']}): "
            f"{check['check_name']}"
            for check in results.get("failed_checks", [])
        )
        for check in results.get("skipped_checks", []):
            reason = check.get("check_result", {}).get("suppress_comment", "")
            print(f"suppressed {check['check_id']} on {check['resource']}: {reason}")
        print(
            f"checkov {report.get('check_type', '?')}: {summary.get('passed', 0)} passed, "
            f"{summary.get('failed', 0)} failed, {summary.get('skipped', 0)} suppressed, "
            f"{summary.get('resource_count', 0)} resources"
        )
    if resources == 0:
        problems.append("checkov saw no resources: is the path right?")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
