"""Publishing the dashboard after a run (DASHBOARD_BUCKET), against a stand-in for Cloud
Storage's JSON API that records each upload (STORAGE_EMULATOR_HOST, as Google's client
libraries use it).
"""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import Pipeline


@dataclass
class Storage:
    """What the stand-in received, and whether it refuses uploads."""

    url: str = ""
    refuse: bool = False
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture
def storage() -> Iterator[Storage]:
    received = Storage()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            url = urllib.parse.urlsplit(self.path)
            name = urllib.parse.parse_qs(url.query)["name"][0]
            received.uploads[name] = {
                "path": url.path,
                "type": self.headers["Content-Type"],
                "authorization": self.headers.get("Authorization"),
                "body": body,
            }
            self.send_response(503 if received.refuse else 200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield received
    server.shutdown()
    server.server_close()


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_each_run_publishes_the_dashboard_and_a_failed_upload_only_logs(
    pipeline: Pipeline, storage: Storage
) -> None:
    publish = {"DASHBOARD_BUCKET": "usajobs-dash", "STORAGE_EMULATOR_HOST": storage.url}
    storage.refuse = True

    refused = pipeline.entrypoint(**publish)

    assert refused.returncode == 0, "the data loaded; publishing is not the run's outcome"
    assert "the dashboard was not published to usajobs-dash" in refused.stderr

    storage.refuse = False
    storage.uploads.clear()
    published = pipeline.entrypoint(**publish)

    assert published.returncode == 0, published.stderr[-3000:]
    uploads = storage.uploads
    assert set(uploads) == {
        "index.html",
        "health.html",
        "static/dashboard.css",
        "static/dashboard.js",
        "static/health.js",
    }
    assert {u["path"] for u in uploads.values()} == {"/upload/storage/v1/b/usajobs-dash/o"}
    assert uploads["index.html"]["type"] == "text/html"
    assert uploads["static/dashboard.js"]["type"] in ("text/javascript", "application/javascript")
    assert {u["authorization"] for u in uploads.values()} == {None}, "no token for an emulator"
    open_now = pipeline.query("select count(*) from postings where status = 'open'")[0][0]
    assert f'data-kpi="open_postings"><span class="value">{open_now}<' in (
        uploads["index.html"]["body"].decode()
    )
    # The health page shows the run that published it, and the one before.
    assert uploads["health.html"]["body"].decode().count("<td>succeeded</td>") == 2
