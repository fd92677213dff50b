"""Dependency types the handlers declare (Litestar `NamedDependency`), provided by service.app.

Rules: types only; the composition root decides what is behind each name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from litestar.di import NamedDependency

from offers import BillingProvider
from service.settings import Settings

Clock: TypeAlias = Callable[[], datetime]

SettingsDep: TypeAlias = NamedDependency[Settings]
BillingDep: TypeAlias = NamedDependency[BillingProvider]
ClockDep: TypeAlias = NamedDependency[Clock]


@dataclass(frozen=True, slots=True)
class Runtime:
    """Settings, billing and clock as one object in app state (`state.runtime`), for the widget's hot
    path: resolving a Litestar dependency costs ~25 µs per request, and several of one handler are
    resolved in an anyio task group (a task each)."""

    settings: Settings
    billing: BillingProvider
    clock: Clock
