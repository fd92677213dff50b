"""Staff accounts: create users, sign in with lockout, log out, change access, and the audit log of admin changes.

Rules: may import service.repositories.staff, service.security and service.db.engine. Password hashing
is slow on purpose, so hashes are checked before a unit of work starts, never while it holds the write
lock. Every write that changes state runs in `unit_of_work()`; an admin change and its audit entry
commit together.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from service.db.engine import unit_of_work
from service.repositories import staff as repo
from service.repositories.staff import AuditEntry
from service.security import hash_password, password_needs_rehash, verify_password

ROLES = ("viewer", "editor", "admin")
MIN_PASSWORD_LENGTH = 10
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
FORGET_FAILURES_AFTER = timedelta(days=1)  # a failed login this old no longer counts towards a lockout
WRONG_LOGIN = "Wrong email or password."
LOCKED = "Too many failed attempts. Try again in a few minutes."


class StaffUserExists(ValueError):
    """The email address already has an account."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_staff_user(email: str, password: str, role: str, now: datetime) -> None:
    """Add a staff user (used by the admin's settings page and `python -m service seed/create-admin`).

    Raises:
        ValueError: the password is too short or the role unknown.
        StaffUserExists: the email address already has an account.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if role not in ROLES:
        raise ValueError(f"the role must be one of {', '.join(ROLES)}")
    email = normalise_email(email)
    password_hash = hash_password(password)
    async with unit_of_work():
        if await repo.email_taken(email):
            raise StaffUserExists(f"{email} already has an account")
        await repo.add_user(email, password_hash, role, now)


async def create_staff_user_by(actor: str, email: str, password: str, role: str, now: datetime) -> None:
    """`create_staff_user` on behalf of the admin `actor`, audited in the same transaction."""
    async with unit_of_work():
        await create_staff_user(email, password, role, now)
        await record_audit(actor, "user.create", normalise_email(email), after=role, now=now)


async def authenticate(email: str, password: str, now: datetime, *, address: str) -> tuple[int, int] | str:
    """(user id, session version) on success; otherwise a message safe to show on the login page.

    Five wrong logins in a row for one email from one client address lock that pair for 15 minutes,
    whether or not the email has an account, so the messages never tell known and unknown emails
    apart, and a stranger elsewhere cannot lock a staff member out. The login route's rate limit per
    address comes on top.
    """
    email = normalise_email(email)
    address = address[:64]
    until = await repo.locked_until(email, address)
    if until is not None and until > now:
        return LOCKED
    found = await repo.credentials(email)
    # The same work either way: no user enumeration by timing.
    valid = verify_password(found.password_hash if found else _DUMMY_HASH, password)
    if found is None or not found.active or not valid:
        async with unit_of_work():
            if await repo.count_failed_login(email, address, now) >= MAX_FAILED_LOGINS:
                await repo.lock_out(email, address, now + LOCKOUT)
            await repo.forget_failed_logins_before(now - FORGET_FAILURES_AFTER)
        return WRONG_LOGIN
    rehashed = hash_password(password) if password_needs_rehash(found.password_hash) else None
    async with unit_of_work():
        await repo.clear_failed_logins(email, address)
        if rehashed is not None:
            await repo.set_password_hash(found.id, rehashed)
    return found.id, found.session_version


async def end_session(user_id: int, session_version: int) -> None:
    """Log out: every cookie minted for this session version is refused from now on, on every worker."""
    async with unit_of_work():
        await repo.end_sessions(user_id, session_version)


_DUMMY_HASH = hash_password("not-a-real-password-just-for-timing")


async def change_access(actor: str, user_id: int, *, role: str, active: bool, now: datetime) -> bool:
    """Set a user's role and active flag, which also signs them out everywhere; False if no such user.

    Nobody can take admin rights or access away from themselves, so a team never locks itself out:
    such a change is ignored (and True is returned, as the user exists).
    """
    async with unit_of_work():
        before = await repo.account(user_id)
        if before is None:
            return False
        if before.email == actor and (not active or role != "admin"):
            return True
        role = role if role in ROLES else before.role
        await repo.set_access(user_id, role=role, active=active)
        await record_audit(
            actor,
            "user.update",
            before.email,
            before=f"{before.role} active={before.active}",
            after=f"{role} active={active}",
            now=now,
        )
    return True


async def record_audit(
    actor: str, action: str, target: str, *, before: str = "", after: str = "", now: datetime
) -> None:
    """Record an admin change: who, what, and the value before and after (joins the caller's unit of work)."""
    async with unit_of_work():
        await repo.add_audit_entry(AuditEntry(actor, action, target, before, after, now))
