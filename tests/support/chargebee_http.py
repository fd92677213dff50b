"""FakeChargebee: Chargebee's HTTP API v2 behind respx, never the network: transport, idempotency and faults.

The SDK opens a new httpx client per request, so the fake is a respx router on its own site's host
(`https://<site>.chargebee.com/api/v2`): other hosts pass through untouched, and another *.chargebee.com host
finds no route (an error, never the network). The API's state and endpoints are ChargebeeState's
(tests/support/chargebee_api.py). It records each request (method, path below /api/v2, form or query params,
idempotency key) and keeps Chargebee's rules (https://apidocs.chargebee.com/docs/api/idempotency):

- Keys count on POST only; the first answer for a key is replayed with `chargebee-idempotency-replayed: true`
  for 30 minutes (Chargebee's window, not Stripe's 24 hours), by `now` (see `advance`).
- Only the same key with the same path and body is a replay; another body is refused (400, the message names
  the key: Chargebee documents the comparison, not the error it answers). A key whose first request still runs
  gets 409 "The previous request is still in progress" (not in the docs: the answer a third-party connector's
  tests record from production, Adyen's commerce connector for Chargebee, DefaultChargebeeApiClientTest).
- A 5xx answer is not kept, so a retry under its key executes: Chargebee does not document storing one, and
  its SDK retries 5xx under the same key. 401/403/429 come before the idempotency layer and are never kept.
- A request the client gave up on (a timeout) still finishes.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import json
import re
import ssl
import types
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import chargebee.http_request  # type: ignore[import-untyped]  # the SDK ships no type information
import httpx
import respx

from tests.support.chargebee_api import Answer, ChargebeeState, error

KEY_LIFETIME = 30 * 60
API_KEY = "test_fake_key"
BEFORE_IDEMPOTENCY = (401, 403, 429)
IN_PROGRESS = "The previous request is still in progress. Please retry the request"
MISMATCH = "The idempotency key '{key}' was already used with a different request"
_sites = itertools.count(1)


def unflatten(params: dict[str, str]) -> dict[str, Any]:
    """Chargebee's form encoding back into objects: `a[b][0]=x` → {"a": [{"b": "x"}]}, `a[0]=x` → {"a": ["x"]},
    `a[is]=x` → {"a": {"is": "x"}}."""
    root: dict[str, Any] = {}
    for key, value in params.items():
        parts = re.findall(r"[^\[\]]+", key)
        if len(parts) in (2, 3) and parts[-1].isdigit():
            rows: list[Any] = root.setdefault(parts[0], [])
            rows.extend({} if len(parts) == 3 else None for _ in range(int(parts[-1]) + 1 - len(rows)))
            if len(parts) == 3:
                rows[int(parts[-1])][parts[1]] = value
            else:
                rows[int(parts[-1])] = value
        elif len(parts) == 2:
            root.setdefault(parts[0], {})[parts[1]] = value
        else:
            root[key] = value
    return root


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # below /api/v2
    params: dict[str, str]
    idempotency_key: str | None


@dataclass
class Failure:
    """The fate of the next write (any request with `reads`; only one whose path starts with `path`, if set).

    status 0 is a connection failure: before Chargebee, or after it executed (`applied`: the answer was lost).
    A 5xx with `applied` is answered after the change was made.
    """

    status: int
    error: dict[str, Any] | None = None
    applied: bool = False
    reads: bool = False
    path: str = ""


Fingerprint = tuple[str, str, tuple[tuple[str, str], ...]]  # method, path, params


@dataclass(frozen=True)
class _Stored:
    fingerprint: Fingerprint
    status: int
    body: bytes
    at: int


def _reuse_ssl_contexts() -> None:
    """The SDK builds an SSL context from its CA bundle for every request (about 20 ms of CPU, most of a call's
    cost here); the tests reuse one per bundle. Nothing else about the request changes."""
    if not isinstance(chargebee.http_request.ssl, types.SimpleNamespace):
        cached = functools.lru_cache(maxsize=4)(ssl.create_default_context)
        chargebee.http_request.ssl = types.SimpleNamespace(create_default_context=cached)


@dataclass(eq=False)
class FakeChargebee(ChargebeeState):
    """`start()` it (or use it as a context manager); register state; queue `failures`; read `requests` afterwards."""

    site: str = field(default_factory=lambda: f"saveflow-fake-{next(_sites)}")
    api_key: str = API_KEY
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    executed: int = 0  # writes that executed (replays and refusals before execution excluded)
    _stored: dict[str, _Stored] = field(default_factory=dict)
    _in_flight: set[str] = field(default_factory=set)
    _tasks: set[asyncio.Future[Answer]] = field(default_factory=set)
    _delay: float = 0.0
    _delay_reads: bool = False
    _router: respx.MockRouter | None = None
    _stop: weakref.finalize[[respx.MockRouter], FakeChargebee] | None = None

    # ------------------------------------------------------------------ lifecycle and test hooks
    def start(self) -> FakeChargebee:
        """Route this site's host to the fake until `close()`, or until the fake is garbage."""
        _reuse_ssl_contexts()
        ref = weakref.ref(self)

        async def answer(request: httpx.Request) -> httpx.Response:
            fake = ref()  # weakly: the router must not keep the fake (and so itself) alive
            if fake is None:
                raise httpx.ConnectError("FakeChargebee is gone", request=request)
            return await fake._handle(request)

        router = respx.MockRouter(assert_all_mocked=True, assert_all_called=False)
        router.route(host=f"{self.site}.chargebee.com").mock(side_effect=answer)
        router.route(host__regex=r"^(?!.*\.chargebee\.com$)").pass_through()  # leave other HTTP alone
        router.start()
        self._router, self._stop = router, weakref.finalize(self, _stop_later, router)
        return self

    def close(self) -> None:
        """Stop routing now (a fake that is merely dropped stops at the event loop's next turn)."""
        if self._stop is not None and self._stop.detach() is not None and self._router is not None:
            self._router.stop(quiet=True)

    def __enter__(self) -> FakeChargebee:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "get"]

    def delay_next(self, seconds: float, *, reads: bool = False) -> None:
        """The next write (with `reads`, the next request of any kind) takes `seconds`, a write's key in flight."""
        self._delay, self._delay_reads = seconds, reads

    # ------------------------------------------------------------------ the transport and idempotency layer
    async def _handle(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method.lower(), request.url.path.removeprefix("/api/v2")
        raw = request.content.decode() if method == "post" else request.url.query.decode()
        params = dict(parse_qsl(raw, keep_blank_values=True))
        key = request.headers.get("chargebee-idempotency-key")
        self.requests.append(Recorded(method, path, params, key))
        if request.headers.get("authorization") != "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode():
            return _respond(*error(401, "api_authentication_failed", "Sorry, authentication failed.", kind=None))
        due = (f for f in self.failures if (f.reads or method != "get") and path.startswith(f.path))
        failure = next(due, None)
        if failure is not None:
            self.failures.remove(failure)
        if failure is not None and failure.status == 0 and not failure.applied:
            raise httpx.ConnectError("connection reset (fake)", request=request)
        if failure is not None and failure.status in BEFORE_IDEMPOTENCY:
            return _respond(failure.status, failure.error or {})
        fingerprint: Fingerprint = (method, path, tuple(sorted(params.items())))
        if method == "post" and key:
            if (answer := self._idempotency_layer(key, fingerprint)) is not None:
                if failure is not None:
                    self.failures.insert(0, failure)  # nothing executes: the failure waits for a request that does
                return answer
            self._in_flight.add(key)
        delay = 0.0
        if method == "post" or self._delay_reads:
            delay, self._delay, self._delay_reads = self._delay, 0.0, False
        execution = asyncio.ensure_future(self._execute(fingerprint, params, key, failure, delay))
        self._tasks.add(execution)
        execution.add_done_callback(self._tasks.discard)
        status, payload = await asyncio.shield(execution)  # the client giving up does not stop Chargebee
        if failure is not None and failure.status == 0:
            raise httpx.ReadError("response lost (fake)", request=request)
        return _respond(status, payload)

    def _idempotency_layer(self, key: str, fingerprint: Fingerprint) -> httpx.Response | None:
        """The stored answer replayed, 400 for another request, 409 for a key in flight; None: execute."""
        stored = self._stored.get(key)
        if stored is not None and self.now - stored.at >= KEY_LIFETIME:
            del self._stored[key]  # forgotten: the key starts a new request
            stored = None
        if stored is not None and stored.fingerprint == fingerprint:
            headers = {"content-type": "application/json", "chargebee-idempotency-replayed": "true"}
            return httpx.Response(stored.status, content=stored.body, headers=headers)
        if stored is not None:
            return _respond(*error(400, "invalid_request", MISMATCH.format(key=key)))
        if key in self._in_flight:
            return _respond(*error(409, "invalid_state_for_request", IN_PROGRESS, kind=None))
        return None

    async def _execute(
        self, fingerprint: Fingerprint, params: dict[str, str], key: str | None, failure: Failure | None, delay: float
    ) -> Answer:
        method, path, _ = fingerprint
        try:
            if delay:
                await asyncio.sleep(delay)
            if failure is not None and failure.status and not failure.applied:
                status, payload = failure.status, failure.error or {}
            else:
                self.executed += method == "post"
                status, payload = self.route(method, path, unflatten(params))
                if failure is not None and failure.status >= 500:
                    status, payload = failure.status, failure.error or {}  # made the change, then failed
            if method == "post" and key and status < 500:
                self._stored[key] = _Stored(fingerprint, status, json.dumps(payload).encode(), self.now)
            return status, payload
        finally:
            if method == "post" and key:
                self._in_flight.discard(key)


def _stop_later(router: respx.MockRouter) -> None:
    """Unregister a dropped fake's router at the event loop's next turn, not wherever garbage collection happens
    to finalize the fake: respx loops over its routers to route a request, and removing one mid-loop skips the
    next (a live fake's). A request waiting at the event loop is inside the router that matched it, which ends
    that loop, so removing a router between turns is safe."""
    try:
        asyncio.get_running_loop().call_soon(functools.partial(router.stop, quiet=True))
    except RuntimeError:  # no loop running: nothing can be routing
        router.stop(quiet=True)


def _respond(status: int, payload: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=payload)
