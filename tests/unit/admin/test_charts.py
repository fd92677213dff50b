"""Chart geometry: round axis tops, points inside the plot, gaps for missing values, the table behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from admin import charts, metrics


def test_tick_steps_are_round_numbers() -> None:
    assert [charts.nice_step(v) for v in (0, 0.7, 3, 7, 12, 4900)] == [1.0, 1.0, 5.0, 10.0, 20.0, 5000.0]
    assert charts.nice_step(0.3, minimum=1) == 1.0  # counts never get a tick at 0.5
    counts = charts.line_chart("c", "t", "d", ["a", "b"], [("n", [5.0, 1.0])], charts.count_format, min_step=1)
    assert [t.label for t in counts.y_ticks] == ["0", "2", "4", "6", "8"]


def test_a_line_chart_places_points_on_its_axes_and_skips_gaps() -> None:
    chart = charts.line_chart(
        "c", "Save rate", "d", ["d1", "d2", "d3"], [("Save rate", [0.5, None, 1.0])], charts.percent, y_max=1.0
    )
    (series,) = chart.series
    assert [p.label for p in series.points] == ["d1 · Save rate: 50.0 %", "d3 · Save rate: 100.0 %"]
    first, last = series.points
    assert first.x == chart.plot_left and last.x == chart.plot_right
    assert last.y == chart.plot_top and chart.plot_top < first.y < chart.plot_bottom
    assert [t.label for t in chart.y_ticks] == ["0.0 %", "25.0 %", "50.0 %", "75.0 %", "100.0 %"]
    assert chart.rows == (("d1", "50.0 %"), ("d2", "—"), ("d3", "100.0 %"))
    assert series.path.startswith("M64.0,") and series.path.count("L") == 1


def test_long_ranges_label_every_few_periods() -> None:
    days = [f"2026-03-{d:02d}" for d in range(1, 31)]
    chart = charts.line_chart("c", "t", "d", days, [("n", [1.0] * 30)], charts.count_format)
    assert len(chart.x_ticks) <= charts.MAX_X_LABELS and chart.x_ticks[0].label == days[0]


def test_the_dashboard_has_one_money_chart_per_currency() -> None:
    now = datetime(2026, 3, 11, tzinfo=UTC)
    cells = [
        metrics.Cell("2026-03-10", "r", "", "", "", False, "saved", "2026-03-10", 1, 0, 0, 0, (0,) * 5, currency=c)
        for c in ("eur", "usd")
    ]
    board = metrics.dashboard_of(
        cells, metrics.Filters(now.date(), now.date()), bucket="day", now=now, verify_after=timedelta(days=30)
    )
    found = charts.charts_of(board, {"r": "Too dear"}, {})
    assert [c.chart_id for c in found] == [
        "chart-save-rate",
        "chart-mrr-eur",
        "chart-mrr-usd",
        "chart-reasons",
        "chart-offers",
    ]
    assert found[3].series[0].name == "Too dear"
    assert charts.money_format("eur")(123_456) == "1,235 EUR"
