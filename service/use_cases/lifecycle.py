"""After a pause: resume on the host's request, remind before billing resumes, and open the resume link.

Rules: may import flows, offers (ports and pure modules, never providers), service.db.engine,
service.repositories, service.mail, service.security and service.use_cases. Billing is read fresh
before every decision (offers.pauses). Each change is persisted before its side effect: an API resume
is audited before the billing call (and its result after); a reminder's webhook, email and mark
commit together in one unit of work, so it goes out once even with several sweepers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from offers import BillingError, BillingProvider, SubscriptionNotFound, SubscriptionSnapshot
from offers.pauses import ReminderAction, pause_reminder, paused_until
from service.db.engine import unit_of_work
from service.mail.resume_link import ResumeClaims, mint_resume_token
from service.repositories import pause_reminders
from service.repositories import sessions as session_repo
from service.security import EmbedClaims
from service.use_cases import outbound
from service.use_cases.customer_status import CustomerStatus, UnknownCustomer, customer_status
from service.use_cases.emails import queue_email
from service.use_cases.sessions import SessionView, start_session
from service.use_cases.staff import record_audit

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
API_ACTOR = "api"  # the audit log's "who" for calls made with the API key
PAUSE_ENDING = "subscription.pause_ending"
MAX_KEY_ID = 200  # a Stripe idempotency key is at most 255 characters


class NotPaused(Exception):
    """The subscription is not paused now, so there is nothing to resume."""

    def __init__(self, subscription_id: str, status: str) -> None:
        super().__init__(f"{subscription_id} is not paused ({status})")
        self.subscription_id = subscription_id
        self.status = status


# ------------------------------------------------------------------------------ resume (server API)
def resume_key(snapshot: SubscriptionSnapshot, until: datetime) -> str:
    """`sf:api:<subscription>:resume:<paused_until epoch>`: a retried call ends the same pause once, and
    can never end a later pause by accident (that one has another end, so another key)."""
    sub = snapshot.id if len(snapshot.id) <= MAX_KEY_ID else hashlib.sha256(snapshot.id.encode()).hexdigest()
    return f"sf:api:{sub}:resume:{int(until.timestamp())}"


async def resume_subscription(
    customer_id: str, *, subscription_id: str | None, billing: BillingProvider, clock: Clock
) -> CustomerStatus:
    """End the customer's pause now (billing resumes today); returns their status read afresh.

    Raises:
        UnknownCustomer, SubscriptionNotFound: nothing to resume. NotPaused: not paused now.
        BillingError: the call failed (audited); a retry with the same pause uses the same key.
    """
    if subscription_id is None:
        subscription_id = await session_repo.latest_subscription_of(customer_id)
        if subscription_id is None:
            raise UnknownCustomer(customer_id)
    snapshot = await billing.get_subscription(subscription_id)
    now = clock()
    until = paused_until(snapshot, now)
    if until is None:
        status = await customer_status(customer_id, subscription_id=snapshot.id, billing=billing, now=now)
        raise NotPaused(snapshot.id, status.status)
    key = resume_key(snapshot, until)
    target = f"{customer_id} {snapshot.id}"
    was = f"paused until {until.isoformat()}"
    # Recorded (committed) before the call: the audit log shows every request even if the process dies.
    await record_audit(API_ACTOR, "subscription.resume", target, before=was, after=f"requested, key {key}", now=now)
    try:
        await billing.resume(snapshot.id, idempotency_key=key)
    except BillingError as exc:
        await record_audit(API_ACTOR, "subscription.resume", target, before=was, after=f"failed: {exc!r}", now=clock())
        raise
    await record_audit(API_ACTOR, "subscription.resume", target, before=was, after="resumed", now=clock())
    return await customer_status(customer_id, subscription_id=snapshot.id, billing=billing, now=clock())


# ------------------------------------------------------------------------------ the resume link
def resume_url(settings: Settings, pause: pause_reminders.PauseSession, until: datetime) -> str:
    token = mint_resume_token(
        settings,
        customer_id=pause.customer_id,
        subscription_id=pause.subscription_id,
        paused_until=until,
        locale=pause.locale,
        email=pause.email,
    )
    return f"{settings.public_url}/w/link?token={quote(token)}"


async def open_resume_link(claims: ResumeClaims, *, billing: BillingProvider, clock: Clock, locale: str) -> SessionView:
    """Start (or, for the same link, resume) the widget session a verified resume link asks for."""
    now = clock()
    embed = EmbedClaims(
        sub=claims.customer_id,
        subscription_id=claims.subscription_id,
        jti=claims.jti,
        iat=int(now.timestamp()),
        exp=claims.expires_at,
        locale=claims.locale,
        email=claims.email,
    )
    return await start_session(embed, billing=billing, clock=clock, locale=locale)


# ------------------------------------------------------------------------------ the reminder sweep
async def remind_pauses_ending(*, billing: BillingProvider, settings: Settings, clock: Clock, limit: int = 100) -> int:
    """Send the `subscription.pause_ending` webhook and email for pauses ending within the lead time;
    returns how many reminders went out. Run by the background sweep."""
    now = clock()
    lead = timedelta(days=settings.pause_reminder_days)
    reminded = 0
    snapshots: dict[str, SubscriptionSnapshot | None] = {}  # one read per subscription per round
    for pause in await pause_reminders.pauses_ending(now + lead, limit):
        if pause.subscription_id not in snapshots:
            try:
                snapshots[pause.subscription_id] = await billing.get_subscription(pause.subscription_id)
            except SubscriptionNotFound:
                snapshots[pause.subscription_id] = None
            except BillingError as exc:  # transient or an operator fault: the next round tries again
                log.warning("pause reminder for %s waits: billing read failed: %r", pause.subscription_id, exc)
                continue
        snapshot = snapshots[pause.subscription_id]
        check = pause_reminder(snapshot, now=now, lead=lead) if snapshot is not None else None
        if check is not None and check.action is ReminderAction.WAIT:
            continue  # paused until later now: its reminder goes out when that date nears
        async with unit_of_work():
            if check is None or check.resumes_at is None:
                # Resumed early, cancelled or over: nothing to remind, and nothing to read again.
                await pause_reminders.claim_reminder(pause.session_id, pause.subscription_id, now, now)
                continue
            if await _remind(pause, check.resumes_at, settings=settings, now=now):
                reminded += 1
    return reminded


async def _remind(pause: pause_reminders.PauseSession, until: datetime, *, settings: Settings, now: datetime) -> bool:
    """Inside the caller's unit of work: mark first (an empty mark means another sweep did it), then queue."""
    if not await pause_reminders.claim_reminder(pause.session_id, pause.subscription_id, until, now):
        return False
    link = resume_url(settings, pause, until)
    data = {
        "customer_id": pause.customer_id,
        "subscription_id": pause.subscription_id,
        "session_id": pause.session_id,
        "resumes_at": until.isoformat(),
        "resume_url": link,
    }
    await outbound.queue_event(PAUSE_ENDING, data, now=now)
    if pause.email:
        try:
            await queue_email(
                "pause_ending",
                to=pause.email,
                locale=pause.locale,
                context={"resume_url": link, "resumes_at": until, "name": pause.first_name},
                customer_id=pause.customer_id,
                dedupe_key=f"pause_ending:{pause.subscription_id}:{int(until.timestamp())}"[:255],
                now=now,
                settings=settings,
            )
        except ValueError as exc:  # an address no mail server would take: the webhook still goes out
            log.warning("pause reminder email for session %s not queued: %s", pause.session_id, exc)
    return True
