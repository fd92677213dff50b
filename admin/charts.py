"""Chart geometry for the dashboard's server-rendered SVG: axes, ticks, series and the data table behind them.

Rules: standard library and admin.metrics only; pure. service/templates/admin/_dashboard_results.html draws
what these return, so every label is escaped by Jinja and the charts need no JavaScript. Each chart
carries the table a screen reader or a curious analyst can open instead (`headers`, `rows`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from admin.metrics import Dashboard

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 36  # the plot area's margins, room for the axis labels
MAX_X_LABELS = 8


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # pixel position along its axis
    label: str


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    label: str  # "2026-03-02 · Save rate: 42.0 %", shown on hover and focus


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    index: int  # colour slot: CSS class series-<index>
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        """SVG path data through the points that have a value (a period without one is skipped)."""
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points))


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    y: float
    width: float
    value_label: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: a line chart (`series`) or a horizontal bar chart (`bars`), with its table."""

    chart_id: str
    title: str
    description: str
    width: int
    height: int
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    series: tuple[Series, ...] = ()
    bars: tuple[Bar, ...] = ()
    bar_height: float = 0

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def plot_top(self) -> int:
        return TOP

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def bar_left(self) -> int:
        return 2 * LEFT

    @property
    def empty(self) -> bool:
        return not self.rows


def nice_step(value: float, minimum: float = 0.0) -> float:
    """The smallest 1, 2 or 5 times 10^k at or above `value` and `minimum` (1 for nothing): a tick interval."""
    value = max(value, minimum)
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(float(step * power) for step in (1, 2, 5, 10) if step * power >= value - 1e-9)


def _x_positions(count: int) -> list[float]:
    span = WIDTH - LEFT - RIGHT
    if count == 1:
        return [LEFT + span / 2]
    return [LEFT + span * i / (count - 1) for i in range(count)]


def _x_ticks(periods: Sequence[str], xs: list[float]) -> tuple[Tick, ...]:
    every = max(1, math.ceil(len(periods) / MAX_X_LABELS))
    return tuple(Tick(x, p) for i, (p, x) in enumerate(zip(periods, xs, strict=True)) if i % every == 0)


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    periods: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    fmt: Callable[[float], str],
    *,
    y_max: float | None = None,
    min_step: float = 0.0,
) -> Chart:
    """Lines over `periods` (oldest first), one per named series; a missing value (None) is skipped.

    The y axis has four equal steps of 1, 2 or 5 times 10^k (at least `min_step`: 1 for counts, one
    currency unit for money), so every tick is a round number.
    """
    peak = max((v for _, vs in series for v in vs if v), default=0.0)
    top = y_max if y_max is not None else 4 * nice_step(peak / 4, min_step)
    bottom_px, height = HEIGHT - BOTTOM, HEIGHT - BOTTOM - TOP
    xs = _x_positions(len(periods)) if periods else []

    def y_of(value: float) -> float:
        return bottom_px - height * (value / top)

    drawn = tuple(
        Series(
            name,
            index,
            tuple(
                Point(x, y_of(v), f"{period} · {name}: {fmt(v)}")
                for period, x, v in zip(periods, xs, values, strict=True)
                if v is not None
            ),
        )
        for index, (name, values) in enumerate(series)
    )
    y_ticks = tuple(Tick(y_of(top * i / 4), fmt(top * i / 4)) for i in range(5))
    rows = tuple(
        (period, *("—" if values[i] is None else fmt(values[i] or 0) for _, values in series))
        for i, period in enumerate(periods)
    )
    return Chart(
        chart_id,
        title,
        description,
        WIDTH,
        HEIGHT,
        _x_ticks(periods, xs),
        y_ticks,
        ("Period", *(name for name, _ in series)),
        rows,
        series=drawn,
    )


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[tuple[str, float, str]],
    fmt: Callable[[float], str],
    *,
    headers: tuple[str, ...],
    rows: tuple[tuple[str, ...], ...],
    x_max: float = 1.0,
) -> Chart:
    """Horizontal bars (label, value, text shown on hover/focus) on a 0 … `x_max` axis."""
    band = 28.0
    height = int(TOP + BOTTOM + band * max(len(bars), 1))
    span = WIDTH - LEFT * 2 - RIGHT  # bar labels need a wider left margin than numbers
    drawn = tuple(
        Bar(label, TOP + band * i + 4, span * min(value / x_max, 1.0) if x_max else 0.0, text, i)
        for i, (label, value, text) in enumerate(bars)
    )
    x_ticks = tuple(Tick(2 * LEFT + span * i / 4, fmt(x_max * i / 4)) for i in range(5))
    return Chart(
        chart_id,
        title,
        description,
        WIDTH,
        height,
        x_ticks,
        (),
        headers,
        rows,
        bars=drawn,
        bar_height=band - 8,
    )


def percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def money_format(currency: str) -> Callable[[float], str]:
    """Whole units with thousands separators and the currency code, e.g. "1,240 USD" (cents in, units out)."""

    def fmt(cents: float) -> str:
        return f"{cents / 100:,.0f} {currency.upper()}"

    return fmt


def count_format(value: float) -> str:
    return f"{value:,.0f}"


MAX_REASON_LINES = 6


def charts_of(board: Dashboard, reasons: Mapping[str, str], offers: Mapping[str, str]) -> tuple[Chart, ...]:
    """The dashboard's charts: save rate, net MRR retained per currency, reasons over time, offer acceptance."""
    periods = [b.key for b in board.trend]
    charts = [
        line_chart(
            "chart-save-rate",
            "Save rate over time",
            "Save rate and retention rate of the flows started in each period.",
            periods,
            [
                ("Save rate", [b.counts.save_rate for b in board.trend]),
                ("Retention rate", [b.counts.retention_rate for b in board.trend]),
            ],
            percent,
            y_max=1.0,
        )
    ]
    for currency in board.currencies:
        charts.append(
            line_chart(
                f"chart-mrr-{currency or 'none'}",
                f"Net MRR retained over time ({currency.upper() or 'no currency'})",
                f"Monthly {currency.upper()} kept by the saves of each period (valued {board.as_of}) and lost to"
                " cancellations.",
                periods,
                [
                    ("Net MRR retained", [float(b.counts.money_in(currency).retained_cents) for b in board.trend]),
                    ("MRR lost", [float(b.counts.money_in(currency).lost_cents) for b in board.trend]),
                ],
                money_format(currency),
                min_step=100,
            )
        )
    names = [r for r, _ in board.reasons_over_time[0].sessions][:MAX_REASON_LINES] if board.reasons_over_time else []
    charts.append(
        line_chart(
            "chart-reasons",
            "Reasons over time",
            f"Flows per period for the {len(names)} most given reasons (repeat flows left out).",
            [p.period for p in board.reasons_over_time],
            [
                (
                    reasons.get(r, r) if r else "No reason yet",
                    [float(dict(p.sessions)[r]) for p in board.reasons_over_time],
                )
                for r in names
            ],
            count_format,
            min_step=1,
        )
    )
    charts.append(
        bar_chart(
            "chart-offers",
            "Offer acceptance",
            "Share of the flows that saw each offer and were saved or kept by it.",
            [
                (
                    offers.get(o.offer_id, o.offer_id),
                    o.accept_rate or 0.0,
                    f"{offers.get(o.offer_id, o.offer_id)}: {o.accepted} of {o.shown} accepted"
                    f" ({percent(o.accept_rate or 0.0)}), {o.verified} verified",
                )
                for o in board.offers
            ],
            percent,
            headers=("Offer", "Shown", "Accepted", "Acceptance", "Verified"),
            rows=tuple(
                (
                    offers.get(o.offer_id, o.offer_id),
                    str(o.shown),
                    str(o.accepted),
                    percent(o.accept_rate or 0.0),
                    str(o.verified),
                )
                for o in board.offers
            ),
        )
    )
    return tuple(charts)
