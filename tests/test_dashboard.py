"""The dashboard, built over a loaded database and read in a real headless browser.

The browser is Debian's chromium, driven by Playwright for Python (its own browser
downloads are unreachable here). Each page must load without a console error, show the
figures the same SQL gives when run directly on the database, answer a filter, and
leave a screenshot in output/screenshots/ (CI keeps it as an artifact). Without
/usr/bin/chromium these tests skip, unless REQUIRE_BROWSER=1 (as in CI), where they fail.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import KEYWORD, ROOT, expected_ids

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from conftest import Pipeline
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(os.environ.get("DASHBOARD_SCREENSHOTS", ROOT / "output" / "screenshots"))
EX_INCOMPLETE = 75

if not CHROMIUM.exists():
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but there is no {CHROMIUM}", pytrace=False)
    pytest.skip(f"no {CHROMIUM}: `apt-get install chromium` to run these", allow_module_level=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass


class Site:
    """The dashboard of one test's database: built by dashboard/build.py, served on loopback."""

    def __init__(self, pipeline: Pipeline, folder: Path) -> None:
        self.pipeline, self.folder = pipeline, folder
        self.build()
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def build(self) -> None:
        """Rebuild the site from the database as it is now."""
        result = subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "dashboard" / "build.py"), "--out", str(self.folder)],
            env=self.pipeline.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium; --no-sandbox because CI runs as root."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def site(pipeline: Pipeline, tmp_path: Path) -> Iterator[Callable[[], Site]]:
    """Build (after the test has loaded something) and serve the dashboard."""
    sites: list[Site] = []

    def _site() -> Site:
        sites.append(Site(pipeline, tmp_path / "dashboard"))
        return sites[-1]

    yield _site
    for served in sites:
        served.server.shutdown()
        served.server.server_close()


@contextlib.contextmanager
def opened(browser: Browser, url: str, name: str) -> Iterator[Page]:
    """A page at ``url`` that must log no console error; its screenshot is kept."""
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        page.close()
    assert errors == [], f"console errors on {url}: {errors}"


def kpi(page: Page, name: str) -> str:
    return page.locator(f'[data-kpi="{name}"] .value').inner_text().strip()


def count(text: str) -> int:
    return int(text.replace(",", "").replace("$", ""))


def test_the_job_market_page_shows_the_databases_figures_and_filters(
    pipeline: Pipeline, site: Callable[[], Site], browser: Browser
) -> None:
    assert pipeline.entrypoint().returncode == 0
    served = site()
    open_now = pipeline.query("select count(*) from postings where status = 'open'")[0][0]
    recent = pipeline.query("select count(*) from postings where opened_on > current_date - 7")
    states = pipeline.query(
        "select count(distinct state) from postings, unnest(states) as state where status = 'open'"
    )[0][0]
    (agency, agency_open), *_ = pipeline.query(
        "select agency_name, count(*) from postings where status = 'open'"
        " group by 1 order by 2 desc, 1 limit 1"
    )
    ((median_pay, remote, telework),) = pipeline.query(
        "select percentile_cont(0.5) within group (order by annual_salary_min),"
        " 100 * avg(coalesce(is_remote, false)::int),"
        " 100 * avg(coalesce(is_telework_eligible, false)::int)"
        " from postings where status = 'open'"
    )

    with opened(browser, f"{served.url}/index.html", "job-market") as page:
        assert count(kpi(page, "open_postings")) == open_now > 0
        assert count(kpi(page, "opened_last_7_days")) == recent[0][0]
        # Shown rounded: to the dollar, and to a tenth of a percent.
        assert abs(count(kpi(page, "median_annual_salary_min")) - median_pay) <= 0.5
        for name, share in (("remote_share", remote), ("telework_share", telework)):
            shown = float(kpi(page, name).removesuffix("%"))
            assert abs(shown - float(share)) <= 0.05 + 1e-9, name
        assert page.locator("#states tbody tr").count() == states
        for chart in ("Open postings per day", "Postings opened and closed per day"):
            assert page.locator(f'svg[aria-label="{chart}"] title').count() > 0
        assert page.locator("#shown").inner_text() == str(open_now)

        page.select_option("select[name=agency]", agency)

        assert page.locator("#shown").inner_text() == str(agency_open)
        rows = page.locator("#explorer tbody tr")
        assert rows.count() == min(agency_open, 200)
        assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {agency}
        links = rows.locator("a").evaluate_all("links => links.map(link => link.href)")
        assert links
        assert all(link.startswith("https://www.usajobs.gov") for link in links)

    # Nothing of the connection reaches the site: only query results do.
    text = "\n".join(p.read_text() for p in served.folder.rglob("*") if p.is_file())
    assert pipeline.api.api_key not in text
    assert pipeline.database not in text


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_the_health_page_shows_the_runs_the_last_failure_and_its_runbook_section(
    pipeline: Pipeline, site: Callable[[], Site], browser: Browser
) -> None:
    assert pipeline.entrypoint().returncode == 0
    # The next run is told fewer postings than it reads: incomplete, exit 75.
    live = len(expected_ids(pipeline.api, Keyword=KEYWORD))
    rule = {"kind": "rewrite", "times": 100_000, "count": live // 2}
    pipeline.api.control("faults", [rule])
    assert pipeline.entrypoint().returncode == EX_INCOMPLETE
    served = site()
    runs = pipeline.query(
        "select status, exit_code from usajobs_ops.pipeline_runs order by started_at"
    )

    with opened(browser, f"{served.url}/health.html", "pipeline-health") as page:
        assert page.locator("#runs tbody tr").count() == len(runs) == 2
        assert page.locator("#runs tbody tr td:nth-child(2)").all_inner_texts() == [
            status for status, _ in reversed(runs)
        ]
        assert kpi(page, "last_status") == "incomplete"
        assert "on time" in page.locator('[data-kpi="freshness"]').inner_text()
        failure = page.locator("#last-failure")
        assert failure.locator("[data-exit-code]").inner_text() == str(EX_INCOMPLETE)
        link = failure.locator("a").get_attribute("href") or ""
        assert link.endswith("#incomplete-read-exit-75")
        section = link.split("#")[1]
        runbook = (ROOT / "docs" / "runbook.md").read_text()
        headings = {_anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, flags=re.MULTILINE)}
        assert section in headings

        page.select_option("#run-status", "incomplete")
        assert page.locator("#runs-shown").inner_text() == "1"
        shown = page.locator("#runs tbody tr:visible td:nth-child(2)").all_inner_texts()
        assert shown == ["incomplete"]
        page.select_option("#run-status", "succeeded")
        shown = page.locator("#runs tbody tr:visible td:nth-child(2)").all_inner_texts()
        assert shown == ["succeeded"]
        page.select_option("#run-status", "")
        assert page.locator("#runs tbody tr:visible").count() == 2

        page.click("text=Job market")

        assert page.url.endswith("/index.html")


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_new_postings_on_a_second_run_move_the_open_figure(
    pipeline: Pipeline, site: Callable[[], Site], browser: Browser
) -> None:
    assert pipeline.entrypoint().returncode == 0
    served = site()
    with opened(browser, f"{served.url}/index.html", "job-market-before") as page:
        before = count(kpi(page, "open_postings"))

    read_before = expected_ids(pipeline.api, Keyword=KEYWORD)
    pipeline.api.control("postings", {"add": 8})  # every other one matches the keyword
    new = expected_ids(pipeline.api, Keyword=KEYWORD) - read_before
    assert len(new) == 4
    assert pipeline.entrypoint().returncode == 0
    served.build()

    with opened(browser, f"{served.url}/index.html", "job-market-after") as page:
        assert count(kpi(page, "open_postings")) == before + len(new)


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_text_from_the_api_is_shown_as_text_never_run(
    pipeline: Pipeline, site: Callable[[], Site], browser: Browser
) -> None:
    (posting, *_) = sorted(expected_ids(pipeline.api, Keyword=KEYWORD))
    title = (
        '<img src=x onerror="window.__pwned = 1">Data Engineer'
        "</script><script>window.__pwned = 2</script>"
    )
    edits = [
        {"path": "/MatchedObjectDescriptor/PositionTitle", "value": title},
        {"path": "/MatchedObjectDescriptor/PositionURI", "value": "javascript:window.__pwned = 3"},
        {"path": "/MatchedObjectDescriptor/OrganizationName", "value": "<b>Agency</b>"},
        # Open, so the explorer lists it.
        {"path": "/MatchedObjectDescriptor/ApplicationCloseDate", "value": "2099-12-31T23:59:59"},
    ]
    pipeline.api.control("postings", {"mutate": {posting: edits}})
    assert pipeline.entrypoint().returncode == 0
    served = site()

    with opened(browser, f"{served.url}/index.html", "job-market-hostile") as page:
        page.fill("input[name=title]", "onerror")
        assert page.locator("#shown").inner_text() == "1"
        row = page.locator("#explorer tbody tr").first
        assert row.locator("td").first.inner_text() == title
        assert row.locator("a").count() == 0, "a javascript: URL became a link"
        assert page.evaluate("window.__pwned") is None
        assert page.locator("b").count() == 0, "an agency's name became markup"
        assert page.locator("select[name=agency] option", has_text="<b>Agency</b>").count() == 1


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
