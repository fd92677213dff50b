"""Win-back after a cancel: the two win-back emails, the reactivation page's facts, and reactivating.

Rules: may import flows, offers (ports and pure modules, never providers), service.db.engine,
service.repositories, service.mail and service.use_cases. State is persisted before each side effect:
- emails: the cancel is committed first (sessions.handle_event); this sweep then queues the email in the
  outbox under a dedupe key ("winback:<session>:at-cancel", "…:after-end"), so it is queued once however
  often the sweep runs, and never for a test session, a flow without a win-back offer, or no address.
- reactivation: the winback row is committed `pending` (with the subscription as read and the moment the
  calls were derived for) before any billing call; each call's idempotency key derives from the row's, so
  the sweep (`finish_pending_winbacks`) repeats exactly the same calls after a crash or a timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import quote

from flows import Outcome
from offers import (
    BillingError,
    BillingProvider,
    Capability,
    ProviderAuthFailed,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
)
from offers.winback import (
    BillingCall,
    Standing,
    WinbackOffer,
    WinbackValue,
    billing_calls,
    second_email_due,
    standing,
    winback_value,
)
from service.db.engine import unit_of_work
from service.mail.winback_link import WINBACK_LINK_LIFETIME, WinbackClaims, mint_winback_token
from service.repositories import emails as email_repo
from service.repositories import flows as flow_repo
from service.repositories import sessions as session_repo
from service.repositories import winbacks
from service.repositories.sessions import StoredSession
from service.use_cases import outbound
from service.use_cases.emails import Queued, queue_email

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
REACTIVATED = "subscription.reactivated"
CATCH_UP = timedelta(days=2)  # a sweep that was down this long still sends; older emails would be stale
AT_CANCEL, AFTER_END = "at-cancel", "after-end"
ACTIVE_AGAIN = "subscribed again before it was due"  # why a second win-back email was not sent


# ------------------------------------------------------------------------------ the emails
def access_ends(session: StoredSession) -> datetime:
    """When the cancelled subscription's access ends: billing's answer, else the period it started in."""
    return session.state.cancel_effective_at or session.context.snapshot.current_period_end


def winback_url(settings: Settings, session_id: str, now: datetime) -> str:
    return (
        f"{settings.public_url}/w/winback?token={quote(mint_winback_token(settings, session_id=session_id, now=now))}"
    )


async def send_winback_emails(*, billing: BillingProvider, settings: Settings, clock: Clock, limit: int = 100) -> int:
    """Queue the win-back emails now due: at the cancel, and `settings.winback_days` after access ends.
    Returns how many were queued (suppressed ones, for an unsubscribed customer, not counted). Billing is
    read before the second one: a customer active again (however they came back) is not asked back; that
    email is stored suppressed, so the decision is made once."""
    now = clock()
    queued = 0
    done = await winbacks.queued_keys(now - 2 * CATCH_UP)  # the emails of both windows, read once
    cancelled = await winbacks.cancelled_between(now - CATCH_UP, now + timedelta(seconds=1))
    for session_id in [s for s in cancelled if f"winback:{s}:{AT_CANCEL}" not in done][:limit]:
        queued += await _queue(session_id, AT_CANCEL, settings=settings, now=now)
    if Capability.RESUBSCRIBE not in billing.capabilities:
        return queued  # after access ends only a new subscription brings them back, and this billing cannot
    after = timedelta(days=settings.winback_days)
    ended_by = now - after + timedelta(seconds=1)  # the window includes its last moment
    ended = await winbacks.access_may_end_between(now - after - CATCH_UP, ended_by)
    for session_id in [s for s in ended if f"winback:{s}:{AFTER_END}" not in done][:limit]:
        session = await session_repo.get(session_id)
        if session is None:
            continue
        ends = access_ends(session)
        due = second_email_due(ends, settings.winback_days, now) and ends >= now - after - CATCH_UP
        if not due or await email_repo.id_by_dedupe_key(f"winback:{session_id}:{AFTER_END}") is not None:
            continue
        try:
            live = await billing.get_subscription(session.subscription_id)
        except SubscriptionNotFound:
            live = None
        except BillingError as exc:  # transient or an operator fault: the next round tries again
            log.warning("win-back email for session %s waits: billing read failed: %r", session_id, exc)
            continue
        active = live is not None and standing(live, now) is Standing.LIVE
        queued += await _queue(session_id, AFTER_END, settings=settings, now=now, session=session, active=active)
    return queued


async def queue_at_cancel(session: StoredSession, *, settings: Settings, now: datetime) -> None:
    """Right after a request committed the cancel: queue its win-back email now rather than at the next
    sweep. Never raises: the cancel is done whatever happens here, and the sweep queues what this missed."""
    if session.state.outcome is not Outcome.CANCELLED:
        return
    try:
        await _queue(session.id, AT_CANCEL, settings=settings, now=now, session=session)
    except Exception:
        log.exception("win-back email for session %s left to the sweep", session.id)


async def _queue(
    session_id: str,
    which: str,
    *,
    settings: Settings,
    now: datetime,
    session: StoredSession | None = None,
    active: bool = False,
) -> int:
    """Queue one win-back email; `active`: billing says they are subscribed again, so it is stored suppressed."""
    dedupe_key = f"winback:{session_id}:{which}"
    if await email_repo.id_by_dedupe_key(dedupe_key) is not None:
        return 0  # queued by an earlier round: nothing to render
    session = session or await session_repo.get(session_id)
    if session is None or not session.email or session.test_mode:
        return 0
    definition = await flow_repo.definition_of_version(session.flow_version_id)
    if definition.winback is None or await winbacks.of_session(session_id) is not None:
        return 0  # no offer to make, or they came back already
    try:
        async with unit_of_work():  # queued and, if need be, suppressed in one commit: never sent by mistake
            result = await queue_email(
                "winback",
                to=session.email,
                locale=session.locale,
                context={
                    "reactivate_url": winback_url(settings, session_id, now),
                    "link_expires_at": now + WINBACK_LINK_LIFETIME,
                    "name": winbacks.first_name(session.attrs_json),
                    "percent_off": definition.winback.percent_off,
                    "duration_months": definition.winback.duration_months,
                    "free_days": definition.winback.free_days,
                },
                customer_id=session.customer_id,
                dedupe_key=dedupe_key,
                now=now,
                settings=settings,
            )
            if active and result.outcome is Queued.QUEUED and result.email_id is not None:
                await email_repo.suppress(result.email_id, ACTIVE_AGAIN)
                return 0
    except ValueError as exc:  # an address no mail server would take
        log.warning("win-back email for session %s not queued: %s", session_id, exc)
        return 0
    return 1 if result.outcome is Queued.QUEUED else 0


# ------------------------------------------------------------------------------ the page
class PageState(StrEnum):
    OFFER = "offer"  # show the offer and the button
    DONE = "done"  # reactivated (just now, or by this link before)
    ACTIVE = "active"  # the subscription is live and not cancelling: nothing to do
    PENDING = "pending"  # billing has not answered yet; the sweep finishes it
    FAILED = "failed"  # billing refused


class WinbackUnavailable(Exception):
    """The link names no cancelled session with a win-back offer (or a test one)."""


@dataclass(frozen=True, slots=True)
class WinbackPage:
    state: PageState
    session: StoredSession
    offer: WinbackOffer
    value: WinbackValue
    snapshot: SubscriptionSnapshot  # billing's answer when the page was read (or when the win-back was)


async def _load(claims: WinbackClaims) -> tuple[StoredSession, WinbackOffer]:
    session = await session_repo.get(claims.session_id)
    if session is None or session.test_mode or session.state.outcome is not Outcome.CANCELLED:
        raise WinbackUnavailable(claims.session_id)
    offer = (await flow_repo.definition_of_version(session.flow_version_id)).winback
    if offer is None:
        raise WinbackUnavailable(claims.session_id)
    return session, offer


_SETTLED = {"applied": PageState.DONE, "pending": PageState.PENDING, "failed": PageState.FAILED}


async def winback_page(claims: WinbackClaims, *, billing: BillingProvider, clock: Clock) -> WinbackPage:
    """What the link's page shows. Raises WinbackUnavailable, or BillingError when billing cannot be read."""
    session, offer = await _load(claims)
    row = await winbacks.of_session(session.id)
    if row is not None:
        state = _SETTLED.get(row.status, PageState.FAILED)
        return WinbackPage(state, session, row.offer, winback_value(row.offer, row.snapshot), row.snapshot)
    live = await billing.get_subscription(session.subscription_id)
    state = PageState.ACTIVE if standing(live, clock()) is Standing.LIVE else PageState.OFFER
    if state is PageState.OFFER and not _billing_can(billing, billing_calls(offer, live, clock(), "probe")):
        state = PageState.FAILED  # e.g. a new subscription on Paddle: never offer a button that cannot work
    return WinbackPage(state, session, offer, winback_value(offer, live), live)


_NEEDS = {
    "reactivate": Capability.REACTIVATE,
    "apply_discount": Capability.DISCOUNT,
    "pause": Capability.PAUSE,
    "resubscribe": Capability.RESUBSCRIBE,
}


def _billing_can(billing: BillingProvider, calls: tuple[BillingCall, ...]) -> bool:
    return all(_NEEDS[call.method] in billing.capabilities for call in calls)


async def reactivate(
    claims: WinbackClaims, page: WinbackPage, *, billing: BillingProvider, clock: Clock
) -> WinbackPage:
    """Bring the customer back with the offer `page` (just read by `winback_page`) shows, through billing
    exactly once; any other page is returned as it is."""
    if page.state is not PageState.OFFER:
        return page
    session, offer, live, value = page.session, page.offer, page.snapshot, page.value
    now = clock()
    row = winbacks.WinbackRow(
        session_id=session.id,
        customer_id=session.customer_id,
        subscription_id=session.subscription_id,
        idempotency_key=f"sf:wb:{session.id}",
        offer=offer,
        snapshot=live,
        decided_at=now,
        status="pending",
        new_subscription_id="",
        currency=value.currency,
        won_back_cents=value.won_back_cents,
    )
    async with unit_of_work():  # committed before any billing call
        if not await winbacks.add_pending(row, list_cents=value.list_cents, now=now):
            return await winback_page(claims, billing=billing, clock=clock)  # another click got there first
    state = await _run(row, billing=billing, clock=clock)
    return WinbackPage(state, session, offer, value, live)


async def finish_pending_winbacks(*, billing: BillingProvider, clock: Clock) -> int:
    """Repeat the calls of win-backs whose lease ran out (same keys: billing applies each once)."""
    async with unit_of_work():
        rows = await winbacks.claim_expired(clock())
    for row in rows:
        await _run(row, billing=billing, clock=clock)
    return len(rows)


async def _run(row: winbacks.WinbackRow, *, billing: BillingProvider, clock: Clock) -> PageState:
    new_id = ""
    try:
        for call in billing_calls(row.offer, row.snapshot, row.decided_at, row.idempotency_key):
            new_id = await _call(call, row, billing) or new_id
    except (ProviderUnavailable, ProviderAuthFailed) as exc:  # unknown or ours: the sweep repeats the same keys
        async with unit_of_work():
            await winbacks.note_error(row.idempotency_key, f"{type(exc).__name__}: {exc}")
        return PageState.PENDING
    except BillingError as exc:
        log.warning("win-back for session %s refused: %s", row.session_id, type(exc).__name__)
        async with unit_of_work():
            await winbacks.settle(
                row.idempotency_key,
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
                new_subscription_id="",
                now=clock(),
            )
        return PageState.FAILED
    now = clock()
    async with unit_of_work():
        if await winbacks.settle(row.idempotency_key, status="applied", error="", new_subscription_id=new_id, now=now):
            data = {
                "customer_id": row.customer_id,
                "subscription_id": new_id or row.subscription_id,
                "previous_subscription_id": row.subscription_id,
                "session_id": row.session_id,
                "via": "winback",
                "offer": {
                    "kind": row.offer.kind.value,
                    "coupon_id": row.offer.coupon_id,
                    "free_days": row.offer.free_days,
                },
            }
            await outbound.queue_event(REACTIVATED, data, now=now)
    return PageState.DONE


async def _call(call: BillingCall, row: winbacks.WinbackRow, billing: BillingProvider) -> str:
    """One billing call of a win-back; returns the new subscription's id for a resubscribe."""
    sub, key = row.subscription_id, call.idempotency_key
    if call.method == "reactivate":
        await billing.reactivate(sub, idempotency_key=key)
    elif call.method == "apply_discount":
        await billing.apply_discount(sub, coupon_id=call.coupon_id, snapshot=row.snapshot, idempotency_key=key)
    elif call.method == "pause" and call.resumes_at is not None:
        # Free days start when the paid period ends: the customer keeps what they paid for.
        await billing.pause(sub, resumes_at=call.resumes_at, behavior="void", idempotency_key=key, at_period_end=True)
    else:
        created: SubscriptionSnapshot = await billing.resubscribe(
            row.customer_id,
            price_id=row.snapshot.price_id,
            coupon_id=call.coupon_id,
            trial_days=call.trial_days,
            idempotency_key=key,
        )
        return created.id
    return ""
