"""Dependency types the handlers declare (Litestar `NamedDependency`), provided by service.app.

Rules: types only; the composition root decides what is behind each name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeAlias

from litestar.di import NamedDependency

from offers import BillingProvider
from service.settings import Settings

Clock: TypeAlias = Callable[[], datetime]

SettingsDep: TypeAlias = NamedDependency[Settings]
BillingDep: TypeAlias = NamedDependency[BillingProvider]
ClockDep: TypeAlias = NamedDependency[Clock]
