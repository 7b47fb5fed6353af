"""What Historic JOA re-poll policies cost in requests per day, with the tap's own rule.

A month of opening dates whose announcements are not all final is polled again until a
horizon (``historic_repoll_days``). This replays four years of daily runs through the tap's
``PollPolicy.needs_poll`` for each policy, with every month unsettled until its horizon
(the worst case, and the usual one: a month holds ~32,000 announcements, and one still
"Accepting applications" keeps it unsettled), and counts the polls of the last two.
Each poll reads the month whole from both historic streams (historic_jobs and
announcement_texts): ``ceil(rows_per_month / page_size)`` requests each.

    tap-usajobs/.venv/bin/python bench/historic_repoll.py    # the tap's venv (make test-tap)
    tap-usajobs/.venv/bin/python bench/historic_repoll.py --rows-per-month 40000

The defaults come from the API's documented facts: a live check saw 3,133,132 rows in pages
of 500, announcements since 2017: ~32,000 a month. No request is made: the
cost is polls x pages, and the polls come from the tap's code.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date, timedelta

from tap_usajobs.historic import REPOLL_AGE_DIVISOR, PollPolicy, Window, month_windows

STREAMS = 2  # historic_jobs and announcement_texts read the same windows
#: (label, horizon in days, age divisor; 0 = every run)
POLICIES = (
    ("every run, to 1 year (the old default)", 365, 0),
    ("every run, to 3 years", 1095, 0),
    (f"age/{REPOLL_AGE_DIVISOR}, to 1 year", 365, REPOLL_AGE_DIVISOR),
    (f"age/{REPOLL_AGE_DIVISOR}, to 3 years (the default)", 1095, REPOLL_AGE_DIVISOR),
    ("age/4, to 3 years", 1095, 4),
)


def polls_per_day(policy: PollPolicy, days: int = 4 * 365) -> tuple[float, float]:
    """Mean polls a day over the last two of four years of daily runs; polls of one month."""
    first_run = date(2030, 1, 1)
    start = first_run - policy.repoll - timedelta(days=62)  # older months are settled
    windows = month_windows(start, first_run + timedelta(days=days))
    polled_on: dict[Window, str] = {}
    polls: dict[Window, int] = dict.fromkeys(windows, 0)
    counted = 0
    for offset in range(days):
        today = first_run + timedelta(days=offset)
        for window in windows:
            if window.start > today:
                break
            saved = (
                {"polled_on": polled_on[window], "unsettled_rows": 1}
                if window in polled_on
                else None
            )
            if policy.needs_poll(window, saved, today):
                polled_on[window] = today.isoformat()
                polls[window] += 1
                counted += offset >= days // 2
    # A month that ended in the first year and lived its whole horizon in the simulation.
    lifetimes = [
        count
        for window, count in polls.items()
        if window.start >= first_run
        and window.end + policy.repoll < first_run + timedelta(days=days)
    ]
    return counted / (days - days // 2), (max(lifetimes) if lifetimes else math.nan)


def main() -> int:
    """Print one row per policy."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows-per-month", type=int, default=32_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--lookback-days", type=int, default=90)
    args = parser.parse_args()
    pages = math.ceil(args.rows_per_month / args.page_size) * STREAMS
    print(
        f"{args.rows_per_month} rows a month, pages of {args.page_size}, both historic "
        f"streams: {pages} requests a poll; lookback {args.lookback_days} days\n"
    )
    print("| policy | polls a day | requests a day | polls in a month's life |")
    print("|:--|--:|--:|--:|")
    for label, horizon, divisor in POLICIES:
        policy = PollPolicy(
            lookback=timedelta(days=args.lookback_days),
            repoll=timedelta(days=horizon),
            age_divisor=divisor,
        )
        daily, lifetime = polls_per_day(policy)
        print(f"| {label} | {daily:.2f} | {daily * pages:,.0f} | {lifetime:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
