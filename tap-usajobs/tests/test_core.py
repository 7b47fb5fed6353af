"""The Singer SDK's standard tap tests, run against the in-process fake API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from conftest import (  # the module pytest already imported
    FAKE_API,
    NOW,
    catalog_selecting,
    tap_config_for,
)
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from singer_sdk.testing.runners import TapTestRunner

from tap_usajobs import historic
from tap_usajobs.tap import TapUsaJobs
from tap_usajobs.testing.fake_api import FakeUsaJobsServer

if TYPE_CHECKING:
    from collections.abc import Iterator

# The fake serves nothing the tap must quarantine, so that stream has no records here.
SUITE_CONFIG = SuiteConfig(max_records_limit=150, ignore_no_records_for_streams=["quarantine"])
KEYWORDS = ["data engineering", "nurse"]
# Every stream, not only the default selection, so the suite checks them all.
CATALOG = catalog_selecting()

# The SDK builds the test class, and a tap for its stream list, at import time, before
# any fixture can start a server. That tap never sends a request, so it gets an address
# that cannot resolve; the `runner` fixture below syncs against a running fake instead.
# parse_env_config=False keeps TAP_USAJOBS_* variables in a developer's shell out of it.
_StandardTapTests = get_tap_test_class(
    TapUsaJobs,
    config=tap_config_for("http://fake-usajobs.invalid", keywords=KEYWORDS),
    suite_config=SUITE_CONFIG,
    parse_env_config=False,
    catalog=CATALOG,
)


@pytest.fixture(scope="module")
def core_fake_api() -> Iterator[FakeUsaJobsServer]:
    """One fake for the whole standard suite, which syncs once and reads the output."""
    with FakeUsaJobsServer(FAKE_API) as api:
        yield api


class TestTapUsaJobsStandard(_StandardTapTests):  # type: ignore[misc, valid-type]
    """Discovery, CLI output, connection, final state and per-record schema checks."""

    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls, core_fake_api: FakeUsaJobsServer) -> TapTestRunner:
        """Replace the SDK's runner with one that syncs from the running fake."""
        runner = TapTestRunner(
            TapUsaJobs,
            config=tap_config_for(core_fake_api.url, keywords=KEYWORDS),
            suite_config=SUITE_CONFIG,
            parse_env_config=False,
            catalog=CATALOG,
        )
        # The historic streams' months end on the fake's NOW, whatever the wall clock says.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(historic, "utc_today", NOW.date)
            runner.sync_all()
        return runner
