"""Records per day per partner as a small stacked-bar SVG: pure functions, no I/O, no script.

`records_per_day` turns rows (`partnerId`, `createdAt`, as the API returns
them) into counts and an SVG string that a page puts inline. The page's
Content-Security-Policy allows no inline style, so colours are presentation
attributes, never `style`; every text is escaped here, since the caller
marks the result safe. The SVG names itself (<title>, <desc>, role="img")
and the page shows the same counts as a table for those who cannot see it.
The legend is the page's too (`Chart.series` has each name, colour and total),
so that it wraps on a phone instead of shrinking with the drawing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

# Okabe & Ito's palette, told apart with every common colour-vision deficiency;
# its yellow is left out (too faint on white). "Other" is a neutral grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")
OTHER_COLOUR = "#6E7781"
OTHER = "Other partners"

WIDTH, PLOT_TOP, PLOT_HEIGHT, LEFT, RIGHT, BOTTOM = 720, 12, 200, 48, 8, 28


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    counts: tuple[int, ...]  # one per day, oldest first

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Chart:
    days: tuple[date, ...]  # oldest first, the last one is today
    series: tuple[Series, ...]
    svg: str

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(sum(s.counts[i] for s in self.series) for i in range(len(self.days)))

    @property
    def total(self) -> int:
        return sum(self.totals)


def records_per_day(
    rows: Iterable[Mapping[str, Any]],
    names: Mapping[str, str],
    *,
    today: date,
    days: int = 14,
    label: str = "",
    chart_id: str = "chart",
) -> Chart:
    """Counts per UTC day over the `days` up to `today`; the busiest partners get a colour each."""
    window = tuple(today - timedelta(days=days - 1 - i) for i in range(days))
    index = {day: i for i, day in enumerate(window)}
    counts: dict[str, list[int]] = {}
    for row in rows:
        i = index.get(_day(row["createdAt"]))
        if i is not None:
            counts.setdefault(row["partnerId"], [0] * days)[i] += 1
    series = _series(counts, names, days)
    title = "Records per day per partner, last " + str(days) + " days" + (f" ({label})" if label else "")
    return Chart(window, series, _svg(window, series, title, chart_id))


def _day(value: str | datetime) -> date:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _series(counts: dict[str, list[int]], names: Mapping[str, str], days: int) -> tuple[Series, ...]:
    def name(partner_id: str) -> str:
        return names.get(partner_id) or f"Unknown partner {partner_id}"

    ranked = sorted(counts, key=lambda p: (-sum(counts[p]), name(p)))
    kept, rest = ranked[: len(PALETTE)], ranked[len(PALETTE) :]
    if len(rest) == 1:  # one "other" partner may as well be named
        kept, rest = ranked, []
    colours = [*PALETTE, OTHER_COLOUR]  # a seventh partner alone takes the grey "other" would have had
    out = [Series(name(p), colours[i], tuple(counts[p])) for i, p in enumerate(kept)]
    if rest:
        summed = Counter[int]()
        for partner_id in rest:
            summed.update({i: n for i, n in enumerate(counts[partner_id])})
        out.append(Series(OTHER, OTHER_COLOUR, tuple(summed[i] for i in range(days))))
    return tuple(out)


def _short(day: date) -> str:
    return f"{day.day} {day:%b}"  # "4 Dec"; %-d is not portable


def _scale(highest: int) -> tuple[int, int]:
    """A round step (1, 2, 5, 10, 20…) giving at most 5 gridlines, and the top of the scale."""
    step = 1
    while -(-highest // step) > 5:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step, step * max(1, -(-highest // step))


def _svg(window: tuple[date, ...], series: tuple[Series, ...], title: str, chart_id: str) -> str:
    totals = [sum(s.counts[i] for s in series) for i in range(len(window))]
    step, top = _scale(max(totals, default=0))
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / len(window)
    bar = slot * 0.7
    base = PLOT_TOP + PLOT_HEIGHT
    height = base + BOTTOM
    summary = ", ".join(f"{s.name}: {s.total}" for s in series) or "none"
    desc = f"{sum(totals)} records from {_short(window[0])} to {_short(window[-1])}. By partner: {summary}."
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="system-ui, sans-serif" font-size="12">'
        ),
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for value in range(0, top + 1, step):
        y = base - PLOT_HEIGHT * value / top
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#D0D7DE" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#57606A">{value}</text>')
    for i, day in enumerate(window):
        x = LEFT + slot * i + (slot - bar) / 2
        y = float(base)
        for s in series:
            count = s.counts[i]
            if not count:
                continue
            h = PLOT_HEIGHT * count / top
            y -= h
            tip = f"{s.name}, {_short(day)}: {count} record{'s' if count != 1 else ''}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{s.colour}" '
                f'stroke="#FFFFFF" stroke-width="1"><title>{escape(tip)}</title></rect>'
            )
        label_class = "day" if i % 2 == 0 or i == len(window) - 1 else "day day-odd"
        text = _short(day) if i == 0 or day.day == 1 else str(day.day)  # the month where it starts or changes
        parts.append(
            f'<text class="{label_class}" x="{x + bar / 2:.1f}" y="{base + 6}" dominant-baseline="hanging" text-anchor="middle" fill="#57606A">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
