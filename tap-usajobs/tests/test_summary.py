"""The sync summary: what the tap says it did must match what the fake API saw."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from conftest import API_KEY, expected_ids, inject, search_requests
from test_http import KEYWORD

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_usajobs.testing.fake_api import FakeUsaJobsServer

    MakeConfig = Callable[..., dict[str, Any]]


def run_tap(config: dict[str, Any], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run the tap's command line as a user would; return it and the summary file."""
    summary_path = tmp_path / "out" / "summary.json"
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({**config, "run_summary_path": str(summary_path)}))
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tap_usajobs", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return result, summary


def test_summary_counts_match_what_the_server_saw(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, tmp_path: Path
) -> None:
    inject(fake_api, {"kind": "status", "status": 503, "times": 2}, {"kind": "reset", "page": 2})

    result, summary = run_tap(tap_config(), tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    served = search_requests(fake_api)
    answered = [request for request in served if request["status"] is not None]
    written = [json.loads(line) for line in result.stdout.splitlines()]
    records = [message for message in written if message["type"] == "RECORD"]
    expected = expected_ids(fake_api, Keyword=KEYWORD)
    assert summary["status"] == "succeeded"
    assert summary["records"] == dict(Counter(record["stream"] for record in records))
    assert summary["records"]["jobs"] == len(expected)
    assert summary["requests"] == {"jobs": len(answered)}
    # Every request beyond the one per page that finally succeeded was a retry.
    assert summary["retries"] == {"jobs": len(served) - len({r["params"]["Page"] for r in served})}
    assert summary["total_retries"] == 3  # two 503s and one reset connection
    assert summary["queries"] == {
        f"keyword={KEYWORD!r}": {"reported": len(expected), "full_scan": True, "complete": True}
    }
    # The same summary is logged as one line, for logs-only deployments.
    assert "Sync succeeded in " in result.stderr
    per_stream = ", ".join(f"{name}={count}" for name, count in sorted(summary["records"].items()))
    assert f"{len(records)} records ({per_stream})" in result.stderr


def test_a_failed_sync_still_writes_its_summary_without_the_key(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, tmp_path: Path
) -> None:
    inject(fake_api, {"kind": "status", "status": 400, "page": 2})

    result, summary = run_tap(tap_config(), tmp_path)

    assert result.returncode != 0
    assert summary["status"] == "failed"
    assert "HTTP 400" in summary["error"]
    assert summary["records"]["jobs"] > 0  # page 1 was written before page 2 failed
    assert API_KEY not in json.dumps(summary)
    assert API_KEY not in result.stderr


def test_discovery_writes_no_summary(tap_config: MakeConfig, tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(tap_config(run_summary_path=str(summary_path))))

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tap_usajobs", "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert not summary_path.exists()
