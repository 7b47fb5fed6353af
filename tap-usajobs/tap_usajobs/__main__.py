"""Allow ``python -m tap_usajobs``."""

from __future__ import annotations

from tap_usajobs.tap import TapUsaJobs

TapUsaJobs.cli()
