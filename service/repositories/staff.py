"""The staff aggregate: admin accounts (`staff_user`), failed logins (`login_throttle`) and the audit log.

Rules: may import piccolo and service.db.tables. No business decisions (lockout rules, password policy
and roles live in service.use_cases.staff); writes belong inside the caller's `unit_of_work()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db.tables import AuditLog, LoginThrottle, StaffUser


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A signed-in staff user, as the admin's guards see one."""

    id: int
    email: str
    role: str


@dataclass(frozen=True, slots=True)
class StaffAccount:
    id: int
    email: str
    role: str
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    id: int
    password_hash: str
    active: bool
    session_version: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    staff_email: str
    action: str
    target: str
    before: str
    after: str
    at: datetime


# ------------------------------------------------------------------------------------ reads
async def member(user_id: int, session_version: int) -> StaffMember | None:
    """The active user with this id whose sessions of `session_version` are still valid."""
    row = (
        await StaffUser.select(StaffUser.id, StaffUser.email, StaffUser.role)
        .where(
            (StaffUser.id == user_id) & (StaffUser.session_version == session_version) & (StaffUser.active == True)  # noqa: E712 - Piccolo column comparison
        )
        .first()
    )
    return StaffMember(row["id"], row["email"], row["role"]) if row else None


async def credentials(email: str) -> Credentials | None:
    row = (
        await StaffUser.select(StaffUser.id, StaffUser.password_hash, StaffUser.active, StaffUser.session_version)
        .where(StaffUser.email == email)
        .first()
    )
    if row is None:
        return None
    return Credentials(row["id"], row["password_hash"], row["active"], row["session_version"])


async def email_taken(email: str) -> bool:
    return bool(await StaffUser.exists().where(StaffUser.email == email))


async def account(user_id: int) -> StaffAccount | None:
    rows = await _accounts().where(StaffUser.id == user_id)
    return _to_account(rows[0]) if rows else None


async def accounts() -> tuple[StaffAccount, ...]:
    return tuple(_to_account(r) for r in await _accounts().order_by(StaffUser.email))


def _accounts() -> Any:
    return StaffUser.select(StaffUser.id, StaffUser.email, StaffUser.role, StaffUser.active, StaffUser.created_at)


def _to_account(row: dict[str, Any]) -> StaffAccount:
    return StaffAccount(row["id"], row["email"], row["role"], row["active"], row["created_at"])


async def recent_audit(limit: int = 50) -> tuple[AuditEntry, ...]:
    rows = await AuditLog.select().order_by(AuditLog.id, ascending=False).limit(limit)
    return tuple(AuditEntry(r["staff_email"], r["action"], r["target"], r["before"], r["after"], r["at"]) for r in rows)


# ------------------------------------------------------------------------------------ writes
async def add_user(email: str, password_hash: str, role: str, now: datetime) -> int:
    rows = await StaffUser.insert(
        StaffUser(email=email, password_hash=password_hash, role=role, created_at=now)
    ).returning(StaffUser.id)
    user_id: int = rows[0]["id"]
    return user_id


def _throttle_key(email: str, address: str) -> str:
    return f"{address} {email}"  # an address has no space, so the pair is unambiguous


async def locked_until(email: str, address: str) -> datetime | None:
    """Until when logins for `email` from `address` are refused (None: not locked)."""
    row = (
        await LoginThrottle.select(LoginThrottle.locked_until)
        .where(LoginThrottle.key == _throttle_key(email, address))
        .first()
    )
    until: datetime | None = row["locked_until"] if row else None
    return until


async def count_failed_login(email: str, address: str, now: datetime) -> int:
    """Add one failed login for (email, address); returns the new count. Safe under concurrent failures."""
    key = _throttle_key(email, address)
    await LoginThrottle.insert(
        LoginThrottle(key=key, email=email, address=address, failures=0, updated_at=now)
    ).on_conflict(target=LoginThrottle.key, action="DO NOTHING")
    rows = (
        await LoginThrottle.update({LoginThrottle.failures: LoginThrottle.failures + 1, LoginThrottle.updated_at: now})
        .where(LoginThrottle.key == key)
        .returning(LoginThrottle.failures)
    )
    failed: int = rows[0]["failures"] if rows else 0
    return failed


async def lock_out(email: str, address: str, until: datetime) -> None:
    """Refuse logins for (email, address) until `until`; the failed count starts again from zero."""
    await LoginThrottle.update({LoginThrottle.failures: 0, LoginThrottle.locked_until: until}).where(
        LoginThrottle.key == _throttle_key(email, address)
    )


async def clear_failed_logins(email: str, address: str) -> None:
    await LoginThrottle.delete().where(LoginThrottle.key == _throttle_key(email, address))


async def forget_failed_logins_before(cutoff: datetime) -> None:
    """Drop throttle rows untouched since `cutoff` whose lockout is over (keeps the table small)."""
    await LoginThrottle.delete().where(
        (LoginThrottle.updated_at < cutoff)
        & (LoginThrottle.locked_until.is_null() | (LoginThrottle.locked_until < cutoff))
    )


async def set_password_hash(user_id: int, password_hash: str) -> None:
    await StaffUser.update({StaffUser.password_hash: password_hash}).where(StaffUser.id == user_id)


async def end_sessions(user_id: int, session_version: int) -> None:
    """Refuse every session cookie of this user minted for `session_version` (a newer version; no-op if stale)."""
    await StaffUser.update({StaffUser.session_version: StaffUser.session_version + 1}).where(
        (StaffUser.id == user_id) & (StaffUser.session_version == session_version)
    )


async def set_access(user_id: int, *, role: str, active: bool) -> None:
    """Change role and active flag and end the user's sessions everywhere (a new session version)."""
    await StaffUser.update(
        {
            StaffUser.role: role,
            StaffUser.active: active,
            StaffUser.session_version: StaffUser.session_version + 1,
        }
    ).where(StaffUser.id == user_id)


async def add_audit_entry(entry: AuditEntry) -> None:
    await AuditLog.insert(
        AuditLog(
            staff_email=entry.staff_email,
            action=entry.action,
            target=entry.target[:255],
            before=entry.before,
            after=entry.after,
            at=entry.at,
        )
    )
