"""Run the fake USAJobs API: ``python -m tap_usajobs.testing.fake_api --help``."""

from .cli import main

raise SystemExit(main())
