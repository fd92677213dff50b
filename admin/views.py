"""The rows the admin's session, feedback and call-queue pages show: ids for links, words for people.

Rules: pure (standard library and `flows`); admin.queries reads the data and builds these through
`session_row` and friends, labelling each session with its own flow version's `Vocabulary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from admin import wording
from admin.wording import Vocabulary
from flows import FlowState, StepKind
from flows.diagram import STEP_LABELS, PathDiagram

_SHOWN_OFFER = ("saved", "kept")  # outcomes whose session is labelled with the offer it took


class _Record(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def plan(self) -> str: ...
    @property
    def mrr_cents(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def step(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def offer_id(self) -> str | None: ...
    @property
    def offer_kind(self) -> str | None: ...
    @property
    def test_mode(self) -> bool: ...
    @property
    def started_at(self) -> datetime: ...


class Listed(Protocol):
    """A listed session as the repository returns it (service.repositories.session_lists.ListedSession)."""

    @property
    def record(self) -> _Record: ...
    @property
    def locale(self) -> str: ...
    @property
    def state(self) -> FlowState: ...
    @property
    def tags(self) -> str: ...
    @property
    def reviewed_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One customer session, ids kept for links and exports, and labelled in its own flow version's words."""

    id: str
    customer_id: str
    email: str | None
    plan: str
    mrr_cents: int
    outcome: str  # saved | kept | cancelled | abandoned | open
    step: str
    reason: str | None
    offer_id: str | None  # the offer that saved (or kept) the session; None otherwise
    offer_kind: str | None
    test_mode: bool
    started_at: datetime
    locale: str = "en"
    reason_label: str = "—"
    offer_label: str = "—"
    offers_note: str = ""  # "Declined Pause instead of cancelling", "Accepted …"
    text: str = ""  # the written answers (comment / feedback)
    tags: tuple[str, ...] = ()
    reviewed: bool = False
    currency: str = "usd"  # of `mrr_cents`, which is monthly (a yearly price ÷ 12)

    @property
    def outcome_label(self) -> str:
        return wording.outcome_label(self.outcome)

    @property
    def language(self) -> str:
        return wording.language_label(self.locale)

    @property
    def step_label(self) -> str:
        known = {k.value: k for k in StepKind}
        return STEP_LABELS[known[self.step]] if self.step in known else self.step


FeedbackRow = SessionRow  # a session with written answers; `text` holds them


@dataclass(frozen=True, slots=True)
class SessionsPage:
    rows: tuple[SessionRow, ...]
    page: int
    has_next: bool


def session_row(s: Listed, vocab: Vocabulary) -> SessionRow:
    r, state = s.record, s.state
    offer_id = r.offer_id if r.outcome in _SHOWN_OFFER else None
    return SessionRow(
        id=r.id,
        customer_id=r.customer_id,
        email=r.email,
        plan=r.plan,
        mrr_cents=r.mrr_cents,
        currency=r.currency,
        outcome=r.outcome or "open",
        step=r.step,
        reason=r.reason,
        offer_id=offer_id,
        offer_kind=r.offer_kind if offer_id else None,
        test_mode=r.test_mode,
        started_at=r.started_at,
        locale=s.locale,
        reason_label=vocab.reason(r.reason),
        offer_label=vocab.offer(offer_id),
        offers_note=wording.offers_note(state, vocab),
        text=" / ".join(t for t in (state.comment, state.feedback) if t),
        tags=tuple(t for t in s.tags.split(",") if t),
        reviewed=s.reviewed_at is not None,
    )


@dataclass(frozen=True, slots=True)
class FilterOptions:
    """(value, label) pairs for the filter selects: only values that occur in customer sessions."""

    outcomes: tuple[tuple[str, str], ...]
    reasons: tuple[tuple[str, str], ...]
    offers: tuple[tuple[str, str], ...]
    plans: tuple[tuple[str, str], ...]
    languages: tuple[tuple[str, str], ...]
    tags: tuple[tuple[str, str], ...] = ()


def filter_options(
    outcomes: tuple[str, ...],
    reasons: tuple[str, ...],
    plans: tuple[str, ...],
    locales: tuple[str, ...],
    tags: tuple[str, ...],
    vocab: Vocabulary,
) -> FilterOptions:
    """The selects' options, labelled; outcomes in their natural order, the rest alphabetical by label."""
    order = {o: i for i, o in enumerate(wording.OUTCOME_LABELS)}
    return FilterOptions(
        outcomes=tuple((o, wording.outcome_label(o)) for o in sorted(outcomes, key=lambda o: (order.get(o, 99), o))),
        reasons=tuple(sorted(((r, vocab.reason(r)) for r in reasons), key=lambda p: p[1].lower())),
        offers=tuple(sorted(vocab.offers.items(), key=lambda p: p[1].lower())),
        plans=tuple((p, p) for p in plans),
        languages=tuple(sorted(((c, wording.language_label(c)) for c in locales), key=lambda p: p[1])),
        tags=tuple((t, t) for t in tags),
    )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # event | billing | webhook
    title: str  # the sentence; `subject` (an offer or reason label) follows it, emphasised
    detail: str
    subject: str = ""
    event: str = ""  # the logged event's type, for tests and tooltips

    @classmethod
    def of(cls, at: datetime, kind: str, said: wording.Sentence, event: str = "") -> TimelineEntry:
        return cls(at, kind, said.text, said.detail, said.subject, event)


@dataclass(frozen=True, slots=True)
class SessionDetail:
    row: SessionRow
    state: FlowState
    vocab: Vocabulary
    timeline: tuple[TimelineEntry, ...]
    path: tuple[str, ...]  # every step the session was in, in order (replayed from its log)
    diagram: PathDiagram
    flow_version_id: int
    experiment: str | None
    verified_at: datetime | None
    lapsed_at: datetime | None


class _Task(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def session_id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def offer_id(self) -> str: ...
    @property
    def assignee(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def owed(self) -> str: ...


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """An open follow-up task, labelled, with how long the customer has waited against the promise made."""

    id: int
    session_id: str
    customer: str
    assignee: str
    created_at: datetime
    offer_label: str
    reason_label: str
    comment: str
    waited: str  # "3 h 20 min"
    due_at: datetime
    overdue: bool
    promise: str  # where the deadline comes from
    owed: str = ""  # a paid exit interview's incentive, to send once the call is held


def queued_call(task: _Task, reason: str | None, comment: str, vocab: Vocabulary, now: datetime) -> QueuedCall:
    """Due by the promise in the offer's own copy ("within one working day"), else in 24 hours."""
    promise = wording.promise_in(vocab.offer_bodies.get(task.offer_id, ""))
    due = promise.due(task.created_at)
    return QueuedCall(
        id=task.id,
        session_id=task.session_id,
        customer=task.email or task.customer_id,
        assignee=task.assignee,
        created_at=task.created_at,
        offer_label=vocab.offer(task.offer_id),
        reason_label=vocab.reason(reason),
        comment=comment,
        waited=wording.waited(task.created_at, now),
        due_at=due,
        overdue=now > due,
        promise=promise.described,
        owed=task.owed,
    )
