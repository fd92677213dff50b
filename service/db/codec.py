"""JSON codecs for the domain's frozen dataclasses (definitions, state, context, events, effects).

Rules: may import msgspec, flows and offers. msgspec handles plain dataclasses; the two tagged
unions (offers by `kind`, events by class name) are dispatched here by hand.
"""

from __future__ import annotations

import typing
from typing import Any, TypeVar

import msgspec

from flows import EVENT_TYPES, CustomerContext, Effect, Event, FlowDefinition, FlowState, ReasonDef
from flows.effects import ApplyOffer, CancelSubscription
from flows.experiments import Arm
from flows.segments import Condition
from offers import OFFER_TYPES, Offer, OfferKind
from offers.model import BUILT_IN_OFFERS, PauseUnit

_encoder = msgspec.json.Encoder()
_BUILT_IN_TYPES: dict[OfferKind, type[Offer]] = {offer.kind: type(offer) for offer in BUILT_IN_OFFERS.values()}


class CodecError(ValueError):
    """Stored or submitted JSON does not match the domain types; the message says where."""


def dumps(value: Any) -> str:
    return _encoder.encode(value).decode()


T = TypeVar("T")


def _convert(data: Any, cls: type[T], where: str) -> T:
    try:
        return msgspec.convert(data, cls)
    except msgspec.ValidationError as exc:
        raise CodecError(f"{where}: {exc}") from exc


def offer_from_builtins(data: dict[str, Any]) -> Offer:
    try:
        kind = OfferKind(data["kind"])
    except (KeyError, ValueError) as exc:
        raise CodecError(f"offer {data.get('id')!r}: unknown kind {data.get('kind')!r}") from exc
    fields = {k: v for k, v in data.items() if k != "kind"}
    if kind is OfferKind.PAUSE and "months" in fields and "lengths" not in fields:
        # Stored before pauses had lengths: `months` meant one length of that many months, starting now.
        fields["lengths"] = [{"count": fields.pop("months"), "unit": PauseUnit.MONTHS.value}]
    # A built-in offer (e.g. a pinned "Extend the pause") is stored inside an effect; decode it as its type.
    cls = OFFER_TYPES.get(kind) or _BUILT_IN_TYPES.get(kind)
    if cls is None:
        raise CodecError(f"offer {data.get('id')!r}: unknown kind {data.get('kind')!r}")
    return _convert(fields, cls, f"offer {data.get('id')!r}")


def definition_to_json(definition: FlowDefinition) -> str:
    return dumps(definition)


def definition_from_json(text: str | bytes) -> FlowDefinition:
    data = msgspec.json.decode(text)
    if not isinstance(data, dict):
        raise CodecError("flow definition: expected an object")
    # msgspec cannot decode a union of dataclasses, so the definition is assembled field by field.
    hints = typing.get_type_hints(FlowDefinition)
    unknown = data.keys() - hints.keys()
    if unknown:
        raise CodecError(f"flow definition: unknown fields {sorted(unknown)}")
    fields: dict[str, Any] = {
        name: _convert(value, hints[name], f"flow definition field {name!r}")
        for name, value in data.items()
        if name not in ("offers", "reasons")
    }
    fields["reasons"] = _convert(data.get("reasons", []), tuple[ReasonDef, ...], "reasons")
    fields["offers"] = tuple(offer_from_builtins(o) for o in data.get("offers", []))
    try:
        return FlowDefinition(**fields)
    except TypeError as exc:
        raise CodecError(f"flow definition: {exc}") from exc


# Typed decoders for what every widget step reads: one pass from JSON to the dataclass, not two.
_state_decoder = msgspec.json.Decoder(FlowState)
_context_decoder = msgspec.json.Decoder(CustomerContext)


def _decode(decoder: msgspec.json.Decoder[T], text: str | bytes, where: str) -> T:
    try:
        return decoder.decode(text)
    except msgspec.ValidationError as exc:
        raise CodecError(f"{where}: {exc}") from exc


def state_from_json(text: str | bytes) -> FlowState:
    return _decode(_state_decoder, text, "flow state")


def context_from_json(text: str | bytes) -> CustomerContext:
    return _decode(_context_decoder, text, "customer context")


def event_type_name(event: Event) -> str:
    return type(event).__name__


def event_from_json(type_name: str, payload: str | bytes) -> Event:
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise CodecError(f"unknown event type {type_name!r}")
    return _convert(msgspec.json.decode(payload), cls, type_name)


def effect_from_json(text: str | bytes) -> Effect:
    data = msgspec.json.decode(text)
    if "offer" in data:
        return ApplyOffer(offer=offer_from_builtins(data["offer"]), idempotency_key=data["idempotency_key"])
    return _convert(data, CancelSubscription, "cancel effect")


def conditions_from_json(text: str | bytes) -> tuple[Condition, ...]:
    return _convert(msgspec.json.decode(text), tuple[Condition, ...], "segment conditions")


def arms_from_json(text: str | bytes) -> tuple[Arm, ...]:
    return _convert(msgspec.json.decode(text), tuple[Arm, ...], "experiment arms")
