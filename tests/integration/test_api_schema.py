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
from schemathesis.core.parameters import ParameterLocation
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
EXAMPLES = 12  # per strategy and operation (eight operations), besides the explicit real-id cases: about 12 s

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


def explicit_case(operation: Any) -> Callable[[tuple[dict[str, str], dict[str, str]]], ApiCase]:
    """A case for `operation` with exactly these (path, query) parameters, nothing generated."""

    def case(parameters: tuple[dict[str, str], dict[str, str]]) -> ApiCase:
        path, query = parameters
        made: ApiCase = operation.Case(path_parameters=path, query=query)
        return made

    return case


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
    """Three real sessions through the widget (saved by a pause, cancelled, left open), and values that find
    them, by parameter name: ids, filters and the cursors of real pages."""
    auth = {"Authorization": f"Bearer {settings.api_key}"}
    _, saved = await start(client, settings, clock, customer_id="cus_demo_ada")
    await saved.post("continue")
    await saved.post("reason", {"reason": "too_expensive", "comment": 'pricey "ü" \u2603 <b>'})
    await saved.post("offers/pause-2-months/accept")
    _, cancelled = await start(client, settings, clock, customer_id="cus_demo_grace")
    await cancelled.post("cancel")
    await cancelled.post("confirm")
    _, left_open = await start(client, settings, clock, customer_id="cus_demo_linus")
    await left_open.post("continue")
    cursors, page = [], {"next_cursor": ""}
    while True:  # real cursors, one per page of one session
        params = {"limit": "1", **({"cursor": page["next_cursor"]} if page["next_cursor"] else {})}
        page = (await client.get("/api/v1/sessions", params=params, headers=auth)).json()
        if not page["next_cursor"]:
            break
        cursors.append(page["next_cursor"])
    today = clock().date().isoformat()
    return {
        "session_id": [saved.session_id, cancelled.session_id, left_open.session_id],
        "customer_id": ["cus_demo_ada", "cus_demo_grace", "cus_demo_linus"],
        "subscription_id": ["sub_demo_ada", "sub_demo_grace", "sub_demo_linus"],
        "reason": ["too_expensive"],
        "offer": ["pause-2-months", "downgrade-starter"],
        "outcome": ["saved", "cancelled", "open"],
        "from": [today],
        "to": [today],
        "limit": ["1", "2", "100"],
        "cursor": cursors,
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


def holds_data(response: httpx.Response) -> bool:
    """Whether a 200 carries data: an NDJSON line, or a JSON field beyond ids, cursors and zero counts."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return bool(response.text.strip())
    body = response.json()
    ignored = ("customer_id", "next_cursor", "erased_at")
    return any(value not in (None, [], {}, 0, "") for key, value in body.items() if key not in ignored)


def violations(case: ApiCase, response: httpx.Response, checks: list[Any]) -> str:
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:
        return str(group)
    return ""


async def test_the_api_answers_every_input_as_its_openapi_schema_says(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    # Erasures last, so every other operation still finds the seeded customers' data as it was.
    operations = sorted(await api_operations(client), key=lambda op: op.method.upper() == "DELETE")
    known = await seed(client, settings, clock)
    api_key = f"Bearer {settings.api_key}"
    methods: dict[str, set[str]] = defaultdict(set)
    for operation in operations:
        methods[operation.path].add(operation.method.upper())

    failures: dict[str, str] = {}  # one full report per distinct (operation, failure, status)
    statuses: dict[str, set[int]] = defaultdict(set)
    found_data: set[str] = set()  # operations that answered a 200 with real data at least once

    async def check(case: ApiCase, authorization: str | None, *, expect: int | None = None) -> None:
        response = await send(client, case, authorization)
        label = case.operation.label
        statuses[label].add(response.status_code)
        if response.status_code == 200 and holds_data(response):
            found_data.add(label)
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

        # Real ids (from the seeded sessions), so the handlers answer with full bodies, not only 404s: first
        # with real values for the query too (ids, filters that match, cursors of real pages), then with the
        # query generated.
        real_ids = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in path_names})
        real_query = st.fixed_dictionaries(
            {}, optional={name: st.sampled_from(known[name]) for name in query_names if known.get(name)}
        )
        for case in generate(st.tuples(real_ids, real_query).map(explicit_case(operation))):
            await check(case, api_key)
        for case in generate(real_ids.flatmap(cases_at(operation))):
            await check(case, api_key)
        # Anything the schema allows: with the key; without it and with a wrong one, always a documented 401.
        for case in generate(operation.as_strategy()):
            await check(case, api_key)
            await check(case, None, expect=401)
            await check(case, "Bearer not-the-key", expect=401)
        # What the schema forbids must be rejected with a documented 4xx.
        for case in generate(operation.as_strategy(GenerationMode.NEGATIVE)):
            # The API declares no header but the key: a case that breaks the headers is one without the key.
            keyless = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
            await check(case, None if keyless else api_key)
        for value in HOSTILE:
            for name in path_names:
                # Generated path parameters arrive percent-encoded; explicit ones are sent as given.
                await check(operation.Case(path_parameters={**real_path, name: quote(value, safe="")}), api_key)
            for name in query_names:
                await check(operation.Case(path_parameters=real_path, query={name: value}), api_key)
            if value.isascii() and value.isprintable():  # what an HTTP header can carry
                await check(operation.Case(path_parameters=real_path), f"Bearer {value}", expect=401)

        # Methods the schema does not list: 405 naming the allowed ones, never a 5xx or a silent 200.
        listed = methods[operation.path]
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - listed):
            response = await client.request(method, operation.Case(path_parameters=real_path).formatted_path)
            allowed = response.headers.get("allow", "")
            if response.status_code != 405 or not all(m in allowed for m in listed):
                failures.setdefault(f"{operation.label}: {method} answered {response.status_code}", response.text)

    report = "\n\n".join(f"== {key}\n{detail}" for key, detail in failures.items())
    assert not failures, f"{len(failures)} distinct failures:\n" + "\n".join(failures) + "\n\n" + report
    for operation in operations:
        seen = statuses[operation.label]
        documented = {200, 400, 401} | ({404} if operation.path_parameters else set())
        assert documented <= seen, f"{operation.label} did not reach every documented answer: {seen}"
    assert found_data == {operation.label for operation in operations}, "some operations never answered with data"


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
