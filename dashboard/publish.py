"""Build the dashboard and publish it to a private Cloud Storage bucket.

    python dashboard/publish.py --bucket NAME

The scheduled job runs this after each run when DASHBOARD_BUCKET is set (infra/
dashboard.tf), so the site always shows the latest marts and the run that just ended.
Each file is uploaded with the JSON API's simple upload as the job's own service account:
the access token comes from the metadata server and is sent to storage.googleapis.com
only. STORAGE_EMULATOR_HOST (the variable Google's client libraries read) points it at
an emulator instead, with no token, for tests. Objects are replaced in place; viewers with
roles/storage.objectViewer open https://storage.cloud.google.com/NAME/index.html.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build

API = "https://storage.googleapis.com"
#: Where the token comes from (the metadata server), not a token.
METADATA = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts"
TOKEN_URL = f"{METADATA}/default/token"
TIMEOUT = 30


def _token() -> str:
    """The job's access token, from the metadata server of the Cloud Run instance."""
    request = urllib.request.Request(TOKEN_URL, headers={"Metadata-Flavor": "Google"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        return str(json.load(response)["access_token"])


def upload(site: Path, bucket: str) -> list[str]:
    """Upload every file under ``site`` to ``bucket`` at its relative path; their names."""
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "").rstrip("/")
    endpoint = emulator or API
    headers = {} if emulator else {"Authorization": f"Bearer {_token()}"}
    names = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        name = path.relative_to(site).as_posix()
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        request = urllib.request.Request(  # noqa: S310  # https, or the emulator asked for
            f"{endpoint}/upload/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o?{query}",
            data=path.read_bytes(),
            method="POST",
            headers={
                **headers,
                "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            },
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT):  # noqa: S310
            names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    """Build into a temporary folder, then upload it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", required=True, help="the bucket's name (no gs://)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="usajobs-dashboard-") as folder:
        site = Path(folder) / "site"
        seconds = build.build(site)
        names = upload(site, args.bucket)
    print(
        f"Published the dashboard ({len(names)} files, built in {seconds:.1f} s) to {args.bucket}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
