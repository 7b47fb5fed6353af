"""The runtime's own log lines, on stderr: text for people, JSON for Cloud Logging."""

from __future__ import annotations

import json
import sys
import typing as t
from datetime import datetime, timezone

FORMATS = ("text", "json")


class Log:
    """Writes one line per message; ``USAJOBS_LOG_FORMAT=json`` gives Cloud Logging's keys."""

    def __init__(self, log_format: str = "text", run_id: str = "") -> None:
        """Log as ``log_format`` (text or json); every JSON line carries ``run_id``."""
        self.format = log_format if log_format in FORMATS else "text"
        self.run_id = run_id

    def __call__(
        self,
        message: str,
        severity: str = "INFO",
        component: str = "entrypoint",
        **fields: t.Any,  # noqa: ANN401
    ) -> None:
        """Write ``message``; ``fields`` follow it (JSON keys, or key=value in text)."""
        if self.format == "json":
            entry = {
                "severity": severity,
                "message": message,
                "component": component,
                "run_id": self.run_id,
                **fields,
            }
            line = json.dumps(entry, default=str)
        else:
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            extra = " ".join(f"{key}={value}" for key, value in fields.items())
            line = f"{stamp} {component}: {message} {extra}".rstrip()
        print(line, file=sys.stderr, flush=True)
