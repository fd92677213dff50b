"""Adversarial: schemathesis fuzzes every /api/v1 operation from the OpenAPI document the app serves.

Whatever the input, every response must have a documented status code, a documented content type and a
body that matches its declared schema, and none may be a server error. Requests go in-process through
httpx's ASGITransport (the integration `client` fixture) on the test's own event loop, so the test runs
the same on SQLite and on Postgres (STACK.md §3) and never reaches the network.

Cases are generated first (Hypothesis, derandomized, bounded) and sent afterwards: generation needs no
I/O, and sending from the test's loop is what Postgres needs. Each distinct failure is reported once,
with the response and a curl line that reproduces it. A billing outage, injected into the in-memory
provider, must likewise be a documented answer (503 with Retry-After, or 502), never a crash.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from offers import ProviderRejected, ProviderUnavailable
from offers.providers.memory import InMemoryBillingProvider
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import start

API_PREFIX = "/api/v1/"
BASE_URL = "http://testserver.local"  # the client fixture's; nothing listens there
EXAMPLES = 40  # per strategy and operation; the whole file stays well under 30 s on either database

ApiCase = Case[Any]

# Response conformance: no 5xx, status code documented, content type documented, body and headers as declared.
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Hand-picked hostile values for every string parameter, on top of what Hypothesis generates.
HOSTILE = (
    "\x00",
    "ses_\x00nul",
    "\x1b[31m\r\n\t",
    "x" * 5000,
    "x" * 256,
    "../../etc/passwd",
    "a/b",
    "%2F%00",
    "' OR 1=1 --",
    '"; DROP TABLE flow_session; --',
    "\u202e\U0001f600\ufeff\uffff",
    " ",
    "null",
)


def generate(strategy: st.SearchStrategy[ApiCase]) -> list[ApiCase]:
    """The same cases on every run and machine: derandomized, no example database, no deadline."""
    cases: list[ApiCase] = []

    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(strategy)
    def collect(case: ApiCase) -> None:
        cases.append(case)

    collect()
    return cases


def cases_at(operation: Any) -> Callable[[dict[str, str]], st.SearchStrategy[ApiCase]]:
    """Cases for `operation` with these path parameters fixed (the rest generated)."""

    def strategy(path_parameters: dict[str, str]) -> st.SearchStrategy[ApiCase]:
        cases: st.SearchStrategy[ApiCase] = operation.as_strategy(path_parameters=path_parameters)
        return cases

    return strategy


async def send(client: httpx.AsyncClient, case: ApiCase, authorization: str | None) -> httpx.Response:
    """The case as schemathesis serializes it, with the given Authorization header (or none)."""
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=BASE_URL)
    assert not kwargs.get("cookies"), "the API declares no cookies"
    assert "json" not in kwargs and "data" not in kwargs, "the API declares no request bodies"
    # Schemathesis may generate an Authorization header from the security scheme; the test decides instead.
    headers = {name: value for name, value in kwargs["headers"].items() if name.lower() != "authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return await client.request(kwargs["method"], kwargs["url"], params=kwargs["params"], headers=headers)


async def seed(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> dict[str, list[str]]:
    """Three real sessions through the widget (saved by a pause, cancelled, left open), by path parameter."""
    _, saved = await start(client, settings, clock, customer_id="cus_demo_ada")
    await saved.post("continue")
    await saved.post("reason", {"reason": "too_expensive", "comment": 'pricey "ü" \u2603 <b>'})
    await saved.post("offers/pause-2-months/accept")
    _, cancelled = await start(client, settings, clock, customer_id="cus_demo_grace")
    await cancelled.post("cancel")
    await cancelled.post("confirm")
    _, left_open = await start(client, settings, clock, customer_id="cus_demo_linus")
    await left_open.post("continue")
    return {
        "session_id": [saved.session_id, cancelled.session_id, left_open.session_id],
        "customer_id": ["cus_demo_ada", "cus_demo_grace", "cus_demo_linus"],
    }


async def api_operations(client: httpx.AsyncClient) -> list[Any]:
    """The /api/v1 operations of the OpenAPI document the app serves (checked to be valid OpenAPI)."""
    served = await client.get("/schema/openapi.json")
    assert served.status_code == 200
    schema = schemathesis.openapi.from_dict(served.json())
    schema.validate()
    operations = [schema[path][method] for path in schema if path.startswith(API_PREFIX) for method in schema[path]]
    assert operations, f"the served schema has no operation under {API_PREFIX}"
    return operations


def violations(case: ApiCase, response: httpx.Response, checks: list[Any]) -> str:
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:
        return str(group)
    return ""


async def test_the_api_answers_every_input_as_its_openapi_schema_says(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    operations = await api_operations(client)
    known = await seed(client, settings, clock)
    api_key = f"Bearer {settings.api_key}"

    failures: dict[str, str] = {}  # one full report per distinct (operation, failure, status)
    statuses: dict[str, set[int]] = defaultdict(set)

    async def check(case: ApiCase, authorization: str | None, *, expect: int | None = None) -> None:
        response = await send(client, case, authorization)
        label = case.operation.label
        statuses[label].add(response.status_code)
        negative = case.meta is not None and case.meta.generation.mode.is_negative
        checks = [*CONFORMANCE, negative_data_rejection] if negative else CONFORMANCE
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                failures.setdefault(f"{label}: {failure.title} ({response.status_code})", str(group))
        if expect is not None and response.status_code != expect:
            failures.setdefault(
                f"{label}: {response.status_code} instead of {expect}", f"{response.request.url}\n{response.text}"
            )

    for operation in operations:
        path_names = [parameter.name for parameter in operation.path_parameters]
        query_names = [parameter.name for parameter in operation.query]
        real_path = {name: known[name][0] for name in path_names}

        # Real ids (from the seeded sessions), so the handlers answer with full bodies, not only 404s.
        real_ids = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in path_names})
        for case in generate(real_ids.flatmap(cases_at(operation))):
            await check(case, api_key)
        # Anything the schema allows: with the key; without it and with a wrong one, always a documented 401.
        for case in generate(operation.as_strategy()):
            await check(case, api_key)
            await check(case, None, expect=401)
            await check(case, "Bearer not-the-key", expect=401)
        # What the schema forbids must be rejected with a documented 4xx.
        for case in generate(operation.as_strategy(GenerationMode.NEGATIVE)):
            await check(case, api_key)
        for value in HOSTILE:
            for name in path_names:
                # Generated path parameters arrive percent-encoded; explicit ones are sent as given.
                await check(operation.Case(path_parameters={**real_path, name: quote(value, safe="")}), api_key)
            for name in query_names:
                await check(operation.Case(path_parameters=real_path, query={name: value}), api_key)
            if value.isascii() and value.isprintable():  # what an HTTP header can carry
                await check(operation.Case(path_parameters=real_path), f"Bearer {value}", expect=401)

        # Methods the schema does not list: 405 naming the allowed ones, never a 5xx or a silent 200.
        listed = operation.method.upper()
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - {listed}):
            response = await client.request(method, operation.Case(path_parameters=real_path).formatted_path)
            if response.status_code != 405 or listed not in response.headers.get("allow", ""):
                failures.setdefault(f"{operation.label}: {method} answered {response.status_code}", response.text)

    report = "\n\n".join(f"== {key}\n{detail}" for key, detail in failures.items())
    assert not failures, f"{len(failures)} distinct failures:\n" + "\n".join(failures) + "\n\n" + report
    for operation in operations:
        seen = statuses[operation.label]
        assert {200, 400, 401, 404} <= seen, f"{operation.label} did not reach every documented answer: {seen}"


async def test_a_billing_outage_is_a_documented_answer_not_a_crash(
    client: httpx.AsyncClient, settings: Settings, billing: InMemoryBillingProvider
) -> None:
    (status,) = [op for op in await api_operations(client) if op.path.endswith("/status")]
    case = status.Case(path_parameters={"customer_id": "cus_demo_ada"}, query={"subscription_id": "sub_demo_ada"})
    deliberate_5xx = [check for check in CONFORMANCE if check is not not_a_server_error]
    for error, expected in ((ProviderUnavailable("read timed out"), 503), (ProviderRejected("bad API key"), 502)):
        billing.fail_next_read(error)
        response = await send(client, case, f"Bearer {settings.api_key}")
        assert response.status_code == expected, response.text
        report = violations(case, response, deliberate_5xx)
        assert not report, report
        assert "billing provider" in response.json()["detail"]
        assert str(error) not in response.text  # provider messages are for logs, not for callers
        assert ("retry-after" in response.headers) == (expected == 503)
