"""Start one pipeline run: the command a container, cron or Cloud Run job runs.

    python orchestrate/run.py [--force] [--dry-run | --backfill START END | JOB...]

See runtime/cli.py for the modes, the environment it reads and its exit codes.
"""

import sys

from runtime.cli import main

sys.exit(main())
