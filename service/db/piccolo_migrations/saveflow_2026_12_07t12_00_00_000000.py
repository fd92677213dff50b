"""Email: the email_message outbox, each sending attempt (email_attempt) and unsubscribed addresses.

Hand-written, as Piccolo's auto migration would write it (add_table, add_column), so later auto
migrations see the tables. email_message.dedupe_key is UNIQUE, declared with the column so it is part
of CREATE TABLE (SQLite cannot add a constraint later); queue_email relies on it to never queue twice.
"""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column, OnDelete, OnUpdate
from piccolo.columns.column_types import Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-07T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Email: outbox (email_message), attempts (email_attempt) and unsubscribes (email_unsubscribe)"


class OutboundEmail(Table, tablename="email_message", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name=None,
        secret=False,
    )


def _params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(overrides)
    return params


TABLES: list[tuple[str, str, list[tuple[str, type[Column], dict[str, Any]]]]] = [
    (
        "OutboundEmail",
        "email_message",
        [
            ("id", Serial, _params(primary_key=True)),
            ("kind", Varchar, _params(length=32, default="")),
            ("dedupe_key", Varchar, _params(length=255, default="", unique=True)),
            ("to_address", Varchar, _params(length=320, default="", index=True)),
            ("customer_id", Varchar, _params(length=255, default="", index=True)),
            ("locale", Varchar, _params(length=8, default="en")),
            ("subject", Text, _params(default="")),
            ("text_body", Text, _params(default="")),
            ("html_body", Text, _params(default="")),
            ("message_id", Varchar, _params(length=255, default="")),
            ("unsubscribe_url", Text, _params(default="")),
            ("status", Varchar, _params(length=16, default="pending", index=True)),
            ("note", Text, _params(default="")),
            ("attempts", Integer, _params(default=0)),
            ("next_attempt_at", Timestamptz, _params(default=TimestamptzNow())),
            ("claimed_until", Timestamptz, _params(default=None, null=True)),
            ("created_at", Timestamptz, _params(default=TimestamptzNow(), index=True)),
            ("sent_at", Timestamptz, _params(default=None, null=True)),
        ],
    ),
    (
        "EmailAttempt",
        "email_attempt",
        [
            ("id", Serial, _params(primary_key=True)),
            (
                "email",
                ForeignKey,
                _params(
                    references=OutboundEmail,
                    on_delete=OnDelete.cascade,
                    on_update=OnUpdate.cascade,
                    target_column=None,
                    null=True,
                    index=True,
                ),
            ),
            ("at", Timestamptz, _params(default=TimestamptzNow())),
            ("ok", Boolean, _params(default=False)),
            ("detail", Text, _params(default="")),
        ],
    ),
    (
        "EmailUnsubscribe",
        "email_unsubscribe",
        [
            ("address", Varchar, _params(length=320, default="", primary_key=True)),
            ("customer_id", Varchar, _params(length=255, default="", index=True)),
            ("source", Varchar, _params(length=16, default="page")),
            ("at", Timestamptz, _params(default=TimestamptzNow())),
        ],
    ),
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="saveflow", description=DESCRIPTION)
    for class_name, tablename, columns in TABLES:
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    return manager
