"""Charts as inline SVG, drawn at build time: no JavaScript library, nothing fetched.

Each function takes plain rows and returns an SVG string (markupsafe.Markup, so
templates insert it as is). Every label passes through ``escape``: category names come
from the API, which is untrusted input. Every mark carries a <title>, so a hover shows
the value and a test can read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

#: Time series span the page; bar charts share a row with another section.
WIDTH, HEIGHT = 1200, 240
BAR_WIDTH = 640
MAX_TICKS = 5
LABEL_CHARS = 32
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
COLORS = ("#1f5f99", "#d9822b", "#3a8a5c", "#9b3d5e")


def _ticks(top: float) -> list[float]:
    """Up to five round y-axis values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0]
    magnitude = 10 ** (len(str(int(top))) - 1)
    step = next(
        s * magnitude
        for s in (0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10)
        if top / (s * magnitude) <= MAX_TICKS
    )
    return [i * step for i in range(int(top // step) + 2) if i * step <= top + step]


def _ticks_at(count: int) -> list[tuple[int, str]]:
    """Which points get a date under the axis: first, middle and last, each once."""
    if count == 1:
        return [(0, "middle")]
    chosen = {0: "start", count // 2: "middle", count - 1: "end"}
    return sorted(chosen.items())


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) or abs(value) >= 10 else f"{value:,.1f}"  # noqa: PLR2004


def _frame(y_max: float, y_label: str) -> tuple[list[str], float]:
    """The y axis and grid; returns the parts and the top of the scale."""
    ticks = _ticks(y_max)
    top = ticks[-1] or 1
    parts = []
    for tick in ticks:
        y = TOP + (HEIGHT - TOP - BOTTOM) * (1 - tick / top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">'
            f"{_number(tick)}</text>"
        )
    parts.append(
        f'<text x="12" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}" class="axis-label" '
        f'transform="rotate(-90 12 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f})" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    return parts, top


def _svg(parts: list[str], label: str) -> Markup:
    body = "".join(parts)
    return Markup(  # noqa: S704  # every value inside was escaped or formatted above
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'class="chart">{body}</svg>'
    )


def line_chart(points: Sequence[tuple[date, float]], *, label: str, y_label: str) -> Markup:
    """One series over days."""
    points = [(day, float(value)) for day, value in points]
    if not points:
        return Markup('<p class="empty">No data yet.</p>')
    parts, top = _frame(max(value for _, value in points), y_label)
    span = max(len(points) - 1, 1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(i: int, value: float) -> tuple[float, float]:
        return LEFT + inner_w * i / span, TOP + inner_h * (1 - value / top)

    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, (_, v) in enumerate(points)))
    parts.append(f'<polyline points="{path}" class="line" stroke="{COLORS[0]}"/>')
    for i, (day, value) in enumerate(points):
        x, y = xy(i, value)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{COLORS[0]}">'
            f"<title>{day.isoformat()}: {_number(value)}</title></circle>"
        )
    for i, anchor in _ticks_at(len(points)):
        x, _ = xy(i, 0)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 8}" class="tick" text-anchor="{anchor}">'
            f"{points[i][0].isoformat()}</text>"
        )
    return _svg(parts, label)


def column_chart(
    days: Sequence[date],
    series: dict[str, Sequence[float]],
    *,
    label: str,
    y_label: str,
) -> Markup:
    """Side-by-side columns per day, one color per series (e.g. opened and closed)."""
    series = {name: [float(v) for v in values] for name, values in series.items()}
    if not days:
        return Markup('<p class="empty">No data yet.</p>')
    parts, top = _frame(max((max(v) for v in series.values() if v), default=0), y_label)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / len(days)
    width = max(slot / (len(series) + 1), 1)
    for s, (name, values) in enumerate(series.items()):
        for i, value in enumerate(values):
            height = inner_h * value / top
            x = LEFT + slot * i + width * s + width / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + inner_h - height:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="{COLORS[s % len(COLORS)]}">'
                f"<title>{days[i].isoformat()} {escape(name)}: {_number(value)}</title></rect>"
            )
    for i, anchor in _ticks_at(len(days)):
        parts.append(
            f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - 8}" class="tick" '
            f'text-anchor="{anchor}">{days[i].isoformat()}</text>'
        )
    legend = "".join(
        f'<rect x="{LEFT + 8 + 110 * s}" y="{TOP}" width="10" height="10" '
        f'fill="{COLORS[s % len(COLORS)]}"/><text x="{LEFT + 22 + 110 * s}" y="{TOP + 9}" '
        f'class="tick">{escape(name)}</text>'
        for s, name in enumerate(series)
    )
    parts.append(legend)
    return _svg(parts, label)


def bar_chart(rows: Sequence[tuple[str, float]], *, label: str) -> Markup:
    """Horizontal bars, one per category, largest first as given."""
    rows = [(name, float(value)) for name, value in rows]
    if not rows:
        return Markup('<p class="empty">No data yet.</p>')
    row_h, label_w = 22, 250
    height = TOP + row_h * len(rows) + 4
    top = max(value for _, value in rows) or 1
    parts = []
    for i, (name, value) in enumerate(rows):
        y = TOP + row_h * i
        width = (BAR_WIDTH - label_w - 60) * value / top
        text = str(name) if len(str(name)) <= LABEL_CHARS else str(name)[: LABEL_CHARS - 1] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" class="tick" text-anchor="end">'
            f"{escape(text)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}" '
            f'fill="{COLORS[0]}"><title>{escape(name)}: {_number(value)}</title></rect>'
            f'<text x="{label_w + width + 4:.1f}" y="{y + 15}" class="tick">{_number(value)}</text>'
        )
    body = "".join(parts)
    return Markup(  # noqa: S704  # every value inside was escaped or formatted above
        f'<svg viewBox="0 0 {BAR_WIDTH} {height}" role="img" aria-label="{escape(label)}" '
        f'class="chart">{body}</svg>'
    )
