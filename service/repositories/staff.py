"""The staff aggregate: admin accounts (`staff_user`) and the audit log of their changes (`audit_log`).

Rules: may import piccolo and service.db.tables. No business decisions (lockout rules, password policy
and roles live in service.use_cases.staff); writes belong inside the caller's `unit_of_work()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db.tables import AuditLog, StaffUser


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
    locked_until: datetime | None
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
        await StaffUser.select(
            StaffUser.id, StaffUser.password_hash, StaffUser.active, StaffUser.locked_until, StaffUser.session_version
        )
        .where(StaffUser.email == email)
        .first()
    )
    if row is None:
        return None
    return Credentials(row["id"], row["password_hash"], row["active"], row["locked_until"], row["session_version"])


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


async def count_failed_login(user_id: int) -> int:
    """Add one failed login to the user's count; returns the new count."""
    rows = (
        await StaffUser.update({StaffUser.failed_logins: StaffUser.failed_logins + 1})
        .where(StaffUser.id == user_id)
        .returning(StaffUser.failed_logins)
    )
    failed: int = rows[0]["failed_logins"] if rows else 0
    return failed


async def lock_out(user_id: int, until: datetime) -> None:
    """Refuse every login until `until`; the failed count starts again from zero afterwards."""
    await StaffUser.update({StaffUser.failed_logins: 0, StaffUser.locked_until: until}).where(StaffUser.id == user_id)


async def clear_failed_logins(user_id: int, *, new_password_hash: str | None = None) -> None:
    changes: dict[Any, Any] = {StaffUser.failed_logins: 0, StaffUser.locked_until: None}
    if new_password_hash is not None:
        changes[StaffUser.password_hash] = new_password_hash
    await StaffUser.update(changes).where(StaffUser.id == user_id)


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
