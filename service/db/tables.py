"""Piccolo tables: the service's persistence schema (a shell detail; flows/ and offers/ never see it).

Rules: may import piccolo only. JSON payloads are stored as text written by service/db/codec.py,
so SQLite and Postgres store exactly the same bytes.
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    OnUpdate,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class FlowVersion(Table, tablename="flow_version"):
    """An immutable published (or editable draft) version of a flow definition."""

    id = Serial(primary_key=True)
    flow_key = Varchar(length=64, index=True)
    number = Integer()
    status = Varchar(length=16, default="published")  # draft | published | archived
    definition = Text()  # JSON (codec.definition_to_json)
    note = Text(default="")
    created_at = Timestamptz()
    published_at = Timestamptz(null=True, default=None)


class FlowSession(Table, tablename="flow_session"):
    """One cancelling customer's walk through one flow version."""

    id = Varchar(length=40, primary_key=True)
    token_jti = Varchar(length=128, unique=True)
    customer_id = Varchar(length=255, index=True)
    subscription_id = Varchar(length=255, index=True)
    email = Varchar(length=320, null=True, default=None)
    locale = Varchar(length=16, default="en")
    flow_version = ForeignKey(FlowVersion, on_delete=OnDelete.restrict, on_update=OnUpdate.restrict)
    test_mode = Boolean(default=False)
    # Denormalised from `state` for listing and analytics.
    step = Varchar(length=32)
    outcome = Varchar(length=16, null=True, default=None, index=True)
    reason = Varchar(length=64, null=True, default=None)
    offer_id = Varchar(length=64, null=True, default=None)
    offer_kind = Varchar(length=32, null=True, default=None)
    mrr_cents = Integer(default=0)
    plan = Varchar(length=64, default="")
    billing_interval = Varchar(length=16, default="")  # month | year | … from the subscription
    segment_id = Varchar(length=64, null=True, default=None)
    experiment_id = Varchar(length=64, null=True, default=None)
    arm_id = Varchar(length=64, null=True, default=None)
    holdout = Boolean(default=False)
    state = Text()  # JSON FlowState
    context = Text()  # JSON CustomerContext, frozen at start so replay is deterministic
    losses = Text(default="[]")  # JSON [{label, value}] from the token
    attrs = Text(default="{}")  # JSON segment attributes from the token
    version = Integer(default=0)  # = state.version; optimistic concurrency
    started_at = Timestamptz(index=True, index_method=IndexMethod.btree)
    updated_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    # Verified saves: still subscribed and paying N days after the save (from reconciliation).
    verified_at = Timestamptz(null=True, default=None)
    save_lapsed_at = Timestamptz(null=True, default=None)
    # Money and counting facts for the metrics (admin/metrics.py), set at start and at finish.
    currency = Varchar(length=3, default="")  # the subscription's currency; money is never summed across them
    monthly_cents = Integer(default=0)  # monthly list price before any offer (yearly ÷ 12)
    retained_cents = Integer(default=0)  # saves: what the customer pays per month right after the offer
    retained_later_cents = Integer(default=0)  # saves: … from `retained_from` on (pause resumed, discount over)
    retained_from = Timestamptz(null=True, default=None)
    paid_at = Timestamptz(null=True, default=None)  # saves: the first paid invoice after the save
    repeat = Boolean(default=False)  # not counted: another flow of the subscription in its period counts
    offers_shown = Varchar(length=255, default="")  # offer ids shown, comma-separated, in order
    # Counting once per subscription and billing period (offers.value.counted_flow): the period the
    # flow started in, and whether the subscription was already set to cancel then.
    period_end = Timestamptz(null=True, default=None)
    cancelling_at_start = Boolean(default=False)
    # When the user first saw the widget; NULL while a prepared (preloaded) widget has not been opened,
    # and such a session is in no list or figure.
    opened_at = Timestamptz(null=True, default=None)
    # Pauses: when the "pause ending" reminder went out, or was found unneeded (resumed, cancelled).
    pause_reminded_at = Timestamptz(null=True, default=None)
    # CS triage of the free-text answers.
    feedback_tags = Varchar(length=255, default="")
    feedback_reviewed_at = Timestamptz(null=True, default=None)


class Segment(Table, tablename="segment"):
    """A priority-ordered rule that sends matching customers to a flow (flows.segments.Segment)."""

    id = Varchar(length=64, primary_key=True)
    name = Varchar(length=120)
    priority = Integer(default=100, index=True)  # lower runs first
    flow_key = Varchar(length=64)
    conditions = Text(default="[]")  # JSON list of flows.segments.Condition
    created_at = Timestamptz()


class Experiment(Table, tablename="experiment"):
    """An A/B test on one flow: weighted arms, each a flow version, optionally a holdout."""

    id = Varchar(length=64, primary_key=True)
    name = Varchar(length=120)
    flow_key = Varchar(length=64, index=True)
    status = Varchar(length=16, default="running")  # running | stopped
    arms = Text()  # JSON list of flows.experiments.Arm
    started_at = Timestamptz()
    stopped_at = Timestamptz(null=True, default=None)
    winner_arm = Varchar(length=64, null=True, default=None)


class FlowEvent(Table, tablename="flow_event"):
    """The session's append-only event log; replaying it rebuilds the state."""

    id = Serial(primary_key=True)
    session = ForeignKey(FlowSession, on_delete=OnDelete.cascade, index=True)
    seq = Integer()
    type = Varchar(length=40)
    payload = Text()
    at = Timestamptz()


class BillingOperation(Table, tablename="billing_operation"):
    """One billing write (an accepted offer or a cancellation): committed as `pending` before the call."""

    id = Serial(primary_key=True)
    session = ForeignKey(FlowSession, on_delete=OnDelete.restrict, index=True)
    action = Varchar(length=16)  # offer | cancel
    offer_id = Varchar(length=64, null=True, default=None)
    offer_kind = Varchar(length=32, null=True, default=None)
    idempotency_key = Varchar(length=255, unique=True)
    attempt = Integer(default=1)
    status = Varchar(length=16, default="pending", index=True)  # pending | applied | failed
    effect = Text()  # JSON of the effect, so the sweep can redo it without the session's context
    error = Text(default="")
    summary = Text(default="")
    # The attempt clock: when the running attempt (a request's or the sweep's) started, and its lease;
    # the sweep takes over only once the lease has run out.
    attempt_started_at = Timestamptz(null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class BillingWebhookEvent(Table, tablename="billing_webhook_event"):
    """The inbound webhook ledger: every signed delivery stored raw before it is trusted or processed."""

    id = Serial(primary_key=True)
    provider = Varchar(length=16, default="stripe")
    event_id = Varchar(length=255, null=True, default=None, index=True)  # set once the signature checks out
    type = Varchar(length=100, default="")
    subscription_id = Varchar(length=255, null=True, default=None)
    payload = Text()
    signature = Text()
    status = Varchar(length=16, default="received", index=True)  # received|processed|duplicate|invalid|failed
    error = Text(default="")
    attempts = Integer(default=0)
    received_at = Timestamptz()
    processed_at = Timestamptz(null=True, default=None)


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    """Where the host app wants session events sent (signed per the Standard Webhooks spec)."""

    id = Serial(primary_key=True)
    url = Varchar(length=2048)
    secret = Varchar(length=255)  # whsec_<base64>
    event_types = Text(default="*")  # "*" or a comma-separated list of event types
    description = Varchar(length=255, default="")
    active = Boolean(default=True)
    created_at = Timestamptz()


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """One event for one endpoint: written with the state change (outbox), then delivered with retries."""

    id = Serial(primary_key=True)
    endpoint = ForeignKey(WebhookEndpoint, on_delete=OnDelete.cascade, index=True)
    msg_id = Varchar(length=64, unique=True)  # webhook-id header; stable across retries
    event_type = Varchar(length=64)
    payload = Text()
    status = Varchar(length=16, default="pending", index=True)  # pending | delivered | failed
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(index=True)
    claimed_until = Timestamptz(null=True, default=None)
    last_status = Integer(null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)


class StaffUser(Table, tablename="staff_user"):
    id = Serial(primary_key=True)
    email = Varchar(length=320, unique=True)
    password_hash = Varchar(length=255)
    role = Varchar(length=16, default="admin")  # viewer | editor | admin
    active = Boolean(default=True)
    failed_logins = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    session_version = Integer(default=1)  # bumped on logout everywhere / password change
    created_at = Timestamptz()


class FollowUpTask(Table, tablename="follow_up_task"):
    """A customer accepted a training or contact offer: someone in CS has to reach out."""

    id = Serial(primary_key=True)
    session = ForeignKey(FlowSession, on_delete=OnDelete.cascade, index=True)
    customer_id = Varchar(length=255)
    email = Varchar(length=320, null=True, default=None)
    offer_id = Varchar(length=64)
    note = Text(default="")  # what the customer wrote (reason and comment)
    status = Varchar(length=16, default="open", index=True)  # open | done
    assignee = Varchar(length=320, default="")
    created_at = Timestamptz()
    done_at = Timestamptz(null=True, default=None)


class AuditLog(Table, tablename="audit_log"):
    """Who changed what in the admin, with the value before and after."""

    id = Serial(primary_key=True)
    staff_email = Varchar(length=320)
    action = Varchar(length=64)
    target = Varchar(length=255, default="")
    before = Text(default="")
    after = Text(default="")
    at = Timestamptz(index=True)


class LoginThrottle(Table, tablename="login_throttle"):
    """Failed admin logins per (email, client address), whether or not the email has an account.

    Five in a row lock that pair out for a while, so a stranger elsewhere cannot lock a staff member out.
    The pair is also the primary key, `key` = "<address> <email>" (Piccolo adds a two-column UNIQUE
    constraint with ALTER TABLE, which SQLite does not have).
    """

    key = Varchar(length=400, primary_key=True)
    email = Varchar(length=320)
    address = Varchar(length=64)  # the client's IP address as the server saw it
    failures = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(index=True)


class DashboardRollup(Table, tablename="dashboard_rollup"):
    """Session counts per start day and every dashboard dimension, rebuilt exactly from flow_session.

    Maintained by service/db/rollup.py: database triggers mark a day dirty whenever one of its
    sessions (or their funnel events) changes, and a refresh recomputes dirty days from the raw rows
    before any dashboard read. Empty strings stand for "none" in the text dimensions.
    """

    id = Serial(primary_key=True)
    day = Varchar(length=10, index=True)  # UTC start day, YYYY-MM-DD
    plan = Varchar(length=64, default="")
    segment_id = Varchar(length=64, default="")
    flow_version = Integer(default=0)
    experiment_id = Varchar(length=64, default="")
    arm_id = Varchar(length=64, default="")
    holdout = Boolean(default=False)
    locale = Varchar(length=16, default="")
    billing_interval = Varchar(length=16, default="")
    test_mode = Boolean(default=False)
    reason = Varchar(length=64, default="")
    offer_kind = Varchar(length=32, default="")
    outcome = Varchar(length=16, default="open")  # saved | kept | cancelled | abandoned | open
    finished_day = Varchar(length=10, default="")  # UTC day the session finished, "" while open
    currency = Varchar(length=3, default="")
    repeat = Boolean(default=False)
    offer_id = Varchar(length=64, default="")  # the offer that ended the session (saved or kept)
    offers_shown = Varchar(length=255, default="")
    retained_day = Varchar(length=10, default="")  # UTC day `retained_later_cents` starts to apply, "" if never
    sessions = Integer(default=0)
    mrr_cents = BigInt(default=0)
    monthly_cents = BigInt(default=0)
    retained_cents = BigInt(default=0)
    retained_later_cents = BigInt(default=0)
    verified = Integer(default=0)
    lapsed = Integer(default=0)
    reached_continued = Integer(default=0)
    reached_reason = Integer(default=0)
    answered_offer = Integer(default=0)
    accepted_offer = Integer(default=0)
    confirmed_cancel = Integer(default=0)


class RollupDirtyDay(Table, tablename="rollup_dirty_day"):
    """A start day whose rollup rows are stale; written by triggers, cleared by the refresh."""

    day = Varchar(length=10, primary_key=True)


ALL_TABLES: tuple[type[Table], ...] = (
    # The rollup tables come first, so the tests' children-first cleanup empties them last.
    DashboardRollup,
    RollupDirtyDay,
    FlowVersion,
    FlowSession,
    Segment,
    Experiment,
    FlowEvent,
    BillingOperation,
    BillingWebhookEvent,
    WebhookEndpoint,
    WebhookDelivery,
    StaffUser,
    LoginThrottle,
    FollowUpTask,
    AuditLog,
)


class OutboundEmail(Table, tablename="email_message"):
    """One email to a customer: rendered when queued, so every retry sends the same message, then sent by
    the background worker (service/use_cases/emails.py). `dedupe_key` makes queueing idempotent."""

    id = Serial(primary_key=True)
    kind = Varchar(length=32)  # winback | pause_ending
    dedupe_key = Varchar(length=255, unique=True)
    to_address = Varchar(length=320, index=True)
    customer_id = Varchar(length=255, default="", index=True)
    locale = Varchar(length=8, default="en")
    subject = Text(default="")
    text_body = Text(default="")
    html_body = Text(default="")
    message_id = Varchar(length=255, default="")  # the Message-ID header, the same on every attempt
    unsubscribe_url = Text(default="")
    status = Varchar(length=16, default="pending", index=True)  # pending | sent | demo | failed | suppressed
    note = Text(default="")  # why it was suppressed, or the last failed attempt's answer
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    claimed_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(index=True)
    sent_at = Timestamptz(null=True, default=None)


class EmailAttempt(Table, tablename="email_attempt"):
    """One try at handing an email to the SMTP server (or the demo mailbox), with the answer."""

    id = Serial(primary_key=True)
    email = ForeignKey(OutboundEmail, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz()
    ok = Boolean(default=False)
    detail = Text(default="")


class EmailUnsubscribe(Table, tablename="email_unsubscribe"):
    """An address (lower-cased) that asked for no more emails; its customer id stops them at a new address too."""

    address = Varchar(length=320, primary_key=True)
    customer_id = Varchar(length=255, default="", index=True)
    source = Varchar(length=16, default="page")  # page (the confirm button) | one-click (RFC 8058)
    at = Timestamptz()


# Appended rather than listed above, parents before children like the rest.
ALL_TABLES = (*ALL_TABLES, OutboundEmail, EmailAttempt, EmailUnsubscribe)


class Winback(Table, tablename="winback"):
    """A cancelled customer reactivating through the win-back link: its own billing ledger row (pending
    before the calls, settled after, swept when its lease runs out), one per cancelled session."""

    id = Serial(primary_key=True)
    session = Varchar(length=40, unique=True)  # the cancelled flow session: its link is used once
    customer_id = Varchar(length=255, index=True)
    subscription_id = Varchar(length=255)
    new_subscription_id = Varchar(length=255, default="")  # an ended subscription's replacement
    idempotency_key = Varchar(length=255, unique=True)  # each billing call's key derives from it
    offer = Text()  # JSON offers.winback.WinbackOffer, as the flow had it
    snapshot = Text()  # JSON SubscriptionSnapshot read before the calls: a retry derives the same ones
    decided_at = Timestamptz()  # the moment the calls were derived for (standing is judged at it)
    status = Varchar(length=16, default="pending", index=True)  # pending | applied | failed
    error = Text(default="")
    currency = Varchar(length=3, default="")
    list_cents = Integer(default=0)  # monthly list price
    won_back_cents = Integer(default=0)  # monthly price once billing restarts (offers.winback.winback_value)
    claimed_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(index=True)
    settled_at = Timestamptz(null=True, default=None)


ALL_TABLES = (*ALL_TABLES, Winback)
