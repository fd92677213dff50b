"""The dashboard's win-back figure, defined once: customers won back after a cancel, their rate and money.

Rules: standard library only; pure. admin.queries reads the applied win-backs (service.repositories.winbacks)
and the range's cancellations (the dashboard's totals) and calls `winback_figure`. The dashboard prints
DEFINITION beside admin.metrics.DEFINITIONS, so the page and the code agree.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFINITION = (
    "Won back",
    "a cancelled customer reactivated through a win-back email's link and billing applied the win-back offer,"
    " counted on the UTC day billing confirmed it (only the date filters apply); rate: won back ÷ cancelled in"
    " the range; MRR won back: per currency, what they pay per month once billing restarts (a win-back"
    " discount's reduced price, free time's list price), yearly prices ÷ 12",
)


@dataclass(frozen=True, slots=True)
class WinbackFigure:
    won_back: int
    cancelled: int
    mrr_cents: tuple[tuple[str, int], ...]  # (currency, monthly cents once billing restarts), by currency

    @property
    def rate(self) -> float | None:
        """Won back ÷ cancelled in the range; None when nothing was cancelled (no rate to speak of)."""
        return self.won_back / self.cancelled if self.cancelled else None


def winback_figure(won_back: int, cancelled: int, mrr_cents: dict[str, int]) -> WinbackFigure:
    return WinbackFigure(won_back, cancelled, tuple(sorted(mrr_cents.items())))
