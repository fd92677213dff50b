"""How a session ends once billing applied the offer it accepted, by the offer's kind.

Rules: `flows.model` and `offers.model` only; pure data. A paid exit interview is not here: it ends nothing,
the flow goes on to the cancel (flows.machine).
"""

from __future__ import annotations

from flows.model import Outcome
from offers.model import OfferKind

# Any kind not listed ends `saved`: it changed billing to keep the customer (pause, discount, downgrade, trial).
APPLIED_OUTCOMES: dict[OfferKind, Outcome] = {
    OfferKind.TRAINING: Outcome.KEPT,  # changes no billing: the customer stays, no revenue was "saved"
    OfferKind.REACTIVATE: Outcome.REACTIVATED,  # a scheduled cancellation undone
    OfferKind.RESUME: Outcome.KEPT,  # chose to pay again now: no salvage offer involved
    OfferKind.UNDO_DOWNGRADE: Outcome.KEPT,  # stays on the plan already paid for: no salvage offer involved
}
