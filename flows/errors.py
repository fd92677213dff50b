"""The flow engine's errors: an event the current step does not take, or data it cannot accept.

Rules: standard library and `flows.model` / `flows.events` only. `flows.machine.decide` raises them; the
shell answers InvalidTransition with the step as stored, InvalidInput with the step and its message::

    FlowError
    ├── InvalidTransition   this event means nothing in this step (e.g. a double-clicked "Accept")
    └── InvalidInput        the event is allowed here but its data is not (unknown reason, missing text)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.events import Event
    from flows.model import StepKind


class FlowError(Exception):
    """Base of the flow engine's errors."""


class InvalidTransition(FlowError):
    def __init__(self, step: StepKind, event: Event) -> None:
        super().__init__(f"{type(event).__name__} is not accepted in step {step}")
        self.step = step
        self.event = event


class InvalidInput(FlowError):
    """`field` names the form field at fault; `message` is safe to show to the user."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
