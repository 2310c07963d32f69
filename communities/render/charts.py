"""Small server-side SVG charts: horizontal bars, a line over time, several lines, a donut.

No JavaScript and no network: each chart is an inline ``<svg>`` with a ``viewBox`` and
``width="100%"``, so it scales to a 360 px phone. Each has a ``<title>`` and ``<desc>`` for
screen readers (the pages also print the same numbers as a table), and ``<title>`` tooltips on
its marks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 320
PALETTE = ["#c0271c", "#1d4f91", "#1f7a3d", "#8a5a00", "#6b3fa0", "#0f7b8a", "#a8467a", "#4a5565"]
STAR_PALETTE = ["#dfe3e8", "#f6d28b", "#f0b43c", "#e08a1e", "#c0621c", "#961d15"]


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _svg(chart_id: str, title: str, desc: str, height: float, body: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every text inside is escaped above
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def _empty(chart_id: str, title: str, message: str) -> SafeString:
    body = f'<text x="{WIDTH / 2}" y="34" text-anchor="middle" class="chart-empty" font-size="12" fill="#5b6370">{escape(message)}</text>'
    return _svg(chart_id, title, message, 60, body)


def bar_chart(
    chart_id: str,
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    empty: str,
    fmt: Callable[[float], str] = _number,
    maximum: float | None = None,
    color: str = PALETTE[0],
) -> SafeString:
    """One bar per (label, value), label above its bar, longest first as given."""
    if not items:
        return _empty(chart_id, title, empty)
    top = maximum or max((value for _label, value in items), default=0) or 1
    row, bar_height, label_width = 34, 12, WIDTH - 60
    parts = []
    for index, (label, value) in enumerate(items):
        y = index * row
        length = max(0.0, min(1.0, value / top)) * label_width
        text = escape(str(label))
        shown = escape(fmt(value))
        parts.append(
            f"<g><title>{text}: {shown}</title>"
            f'<text x="0" y="{y + 11}" font-size="11" fill="#1d2430">{text}</text>'
            f'<rect x="0" y="{y + 16}" width="{label_width}" height="{bar_height}" rx="3" fill="#eef0f3"/>'
            f'<rect x="0" y="{y + 16}" width="{length:.1f}" height="{bar_height}" rx="3" fill="{color}"/>'
            f'<text x="{WIDTH}" y="{y + 26}" font-size="11" text-anchor="end" fill="#1d2430">{shown}</text></g>'
        )
    desc = "; ".join(f"{label}: {fmt(value)}" for label, value in items)
    return _svg(chart_id, title, desc, len(items) * row + 4, "".join(parts))


def line_chart(
    chart_id: str,
    points: Sequence[tuple[date, float]],
    *,
    title: str,
    empty: str,
    fmt: Callable[[float], str] = _number,
    color: str = PALETTE[1],
) -> SafeString:
    """Values over time: an area under a line, the highest value and the first and last days marked."""
    if not points:
        return _empty(chart_id, title, empty)
    height, left, right, top, bottom = 170, 62, 8, 10, 26
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak = max(value for _day, value in points) or 1
    step = plot_w / max(len(points) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return left + index * step, top + plot_h - (value / peak) * plot_h

    coords = [xy(i, value) for i, (_day, value) in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"{left},{top + plot_h} {line} {coords[-1][0]:.1f},{top + plot_h}"
    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - right}" y2="{top + plot_h}" stroke="#dfe3e8"/>',
        f'<line x1="{left}" y1="{top}" x2="{WIDTH - right}" y2="{top}" stroke="#eef0f3" stroke-dasharray="3 3"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="9" text-anchor="end" fill="#5b6370">{escape(fmt(peak))}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end" fill="#5b6370">0</text>',
        f'<polygon points="{area}" fill="{color}" fill-opacity="0.12"/>',
        f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round"/>',
    ]
    for (day, value), (x, y) in zip(points, coords, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{day:%Y-%m-%d}: {escape(fmt(value))}</title></circle>'
        )
    first, last = points[0][0], points[-1][0]
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="10" fill="#5b6370">{first:%m-%d}</text>')
    if len(points) > 1:
        parts.append(
            f'<text x="{WIDTH - right}" y="{height - 8}" font-size="10" text-anchor="end" fill="#5b6370">{last:%m-%d}</text>'
        )
    desc = "; ".join(f"{day:%Y-%m-%d}: {fmt(value)}" for day, value in points)
    return _svg(chart_id, title, desc, height, "".join(parts))


def lines_chart(
    chart_id: str,
    days: Sequence[date],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    title: str,
    empty: str,
    fmt: Callable[[float], str] = _number,
) -> SafeString:
    """Several values over the same days: one line each (label, values, colour), a legend above."""
    if not days or not any(any(values) for _label, values, _color in series):
        return _empty(chart_id, title, empty)
    legend_h, height, left, right, bottom = 18, 188, 40, 8, 26
    top = legend_h + 10
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak = max(max(values) for _label, values, _color in series) or 1
    step = plot_w / max(len(days) - 1, 1)
    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - right}" y2="{top + plot_h}" stroke="#dfe3e8"/>',
        f'<line x1="{left}" y1="{top}" x2="{WIDTH - right}" y2="{top}" stroke="#eef0f3" stroke-dasharray="3 3"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="9" text-anchor="end" fill="#5b6370">{escape(fmt(peak))}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end" fill="#5b6370">0</text>',
    ]
    for index, (label, values, color) in enumerate(series):
        x = index * (WIDTH // max(len(series), 1))
        parts.append(
            f'<rect x="{x}" y="2" width="10" height="10" rx="2" fill="{color}"/>'
            f'<text x="{x + 14}" y="11" font-size="10" fill="#1d2430">{escape(str(label))}</text>'
        )
        coords = [(left + i * step, top + plot_h - (value / peak) * plot_h) for i, value in enumerate(values)]
        line = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round"/>'
        )
        for day, value, (cx, cy) in zip(days, values, coords, strict=True):
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2" fill="{color}">'
                f"<title>{day:%Y-%m-%d} {escape(str(label))}: {escape(fmt(value))}</title></circle>"
            )
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="10" fill="#5b6370">{days[0]:%m-%d}</text>')
    if len(days) > 1:
        parts.append(
            f'<text x="{WIDTH - right}" y="{height - 8}" font-size="10" text-anchor="end" fill="#5b6370">{days[-1]:%m-%d}</text>'
        )
    desc = "; ".join(
        f"{day:%Y-%m-%d}: " + ", ".join(f"{label} {fmt(values[i])}" for label, values, _color in series)
        for i, day in enumerate(days)
    )
    return _svg(chart_id, title, desc, height, "".join(parts))


def donut_chart(
    chart_id: str,
    segments: Sequence[tuple[str, float]],
    *,
    title: str,
    empty: str,
    colors: Sequence[str] = PALETTE,
    fmt: Callable[[float], str] = _number,
) -> SafeString:
    """Shares of a whole: a ring with a legend beside it."""
    total = sum(value for _label, value in segments)
    if not segments or total <= 0:
        return _empty(chart_id, title, empty)
    cx = cy = 80
    radius, ring = 56, 22
    circumference = 2 * 3.141592653589793 * radius
    parts = [f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="#eef0f3" stroke-width="{ring}"/>']
    offset = 0.0
    for index, (label, value) in enumerate(segments):
        if value <= 0:
            continue
        length = value / total * circumference
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="{colors[index % len(colors)]}" '
            f'stroke-width="{ring}" stroke-dasharray="{length:.2f} {circumference - length:.2f}" '
            f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {cx} {cy})">'
            f"<title>{escape(str(label))}: {escape(fmt(value))}</title></circle>"
        )
        offset += length
    parts.append(
        f'<text x="{cx}" y="{cy + 5}" text-anchor="middle" font-size="15" font-weight="600" fill="#1d2430">{escape(fmt(total))}</text>'
    )
    for index, (label, value) in enumerate(segments):
        y = 18 + index * 22
        parts.append(
            f'<rect x="172" y="{y - 10}" width="12" height="12" rx="2" fill="{colors[index % len(colors)]}"/>'
            f'<text x="190" y="{y}" font-size="11" fill="#1d2430">{escape(str(label))}</text>'
            f'<text x="{WIDTH}" y="{y}" font-size="11" text-anchor="end" fill="#1d2430">{escape(fmt(value))}</text>'
        )
    height = max(2 * cy, 18 + len(segments) * 22)
    desc = "; ".join(f"{label}: {fmt(value)}" for label, value in segments)
    return _svg(chart_id, title, desc, height, "".join(parts))


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"
