"""Errors to HTTP answers: a friendly page in the user's language under /w, JSON `{status_code, detail}` elsewhere.

Rules: the one place that maps exceptions to responses; `service.app.create_app` registers
EXCEPTION_HANDLERS for the whole app. Users never see exception text: the widget shows a message chosen
by kind (widget/steps/_error.html), JSON callers a fixed sentence. Handlers raise and let this module
answer, except where they can do better themselves (the widget re-renders a step for InvalidInput).
A body that cannot be read as a form (broken multipart, an unknown charset, bytes that are not UTF-8)
is an UnreadableBody, raised by the app's request class (FormRequest) and read early for pages by
read_page_forms_first: a 400 with the friendly page in the widget and the admin, never a 500.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.datastructures import FormMultiDict
from litestar.exceptions import ClientException, HTTPException
from litestar.exceptions.responses import create_exception_response
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from flows import FlowError, InvalidInput, InvalidTransition
from offers import BillingError, ProviderRejected, ProviderUnavailable, SubscriptionNotFound
from service.i18n import gettext_callables, negotiate
from service.security import FlowTokenError, TokenError
from service.use_cases.customer_status import UnknownCustomer
from service.use_cases.sessions import FlowNotConfigured, SessionNotFound

log = logging.getLogger(__name__)

# What a database that is down, restarting or out of connections raises, on either engine. Its
# transactions roll back, so nothing is half-applied: the caller may simply retry.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,
    TimeoutError,
)
RETRY_AFTER_SECONDS = "5"


class UnreadableBody(ClientException):
    """The request body is not a readable form (400, or 413 when it is over the route's size limit)."""


class FormRequest(HTMXRequest):
    """The app's request class: an HTMXRequest whose form() fails as a 400, however the body is broken.

    Litestar's multipart parser answers a bad structure with a 400 itself, but lets a part in an
    unknown charset (LookupError) or in bytes that are not UTF-8 (UnicodeDecodeError) escape as a 500.
    The CSRF middleware reads forms through this class too.
    """

    async def form(self) -> FormMultiDict:
        try:
            return await super().form()
        except UnreadableBody:
            raise
        except ClientException as exc:  # includes ValidationException ("multipart boundary missing")
            raise UnreadableBody(detail="The form could not be read.", status_code=exc.status_code) from exc
        except (UnicodeDecodeError, LookupError) as exc:
            raise UnreadableBody(detail="The form could not be read.") from exc


async def read_page_forms_first(request: Request[Any, Any, Any]) -> None:
    """The app's before_request hook: a multipart POST to a page (/w, /admin) is parsed before the handler.

    Page handlers read their forms as URL-encoded bodies, which never fails, so a broken multipart body
    would otherwise pass as an empty form; parsed here, it is a 400 page, and a sound one is the form.
    """
    page = request.scope["path"].startswith(("/w/", "/admin"))
    if page and request.method == "POST" and request.content_type[0] == "multipart/form-data":
        await request.form()


@dataclass(frozen=True, slots=True)
class Problem:
    """How one kind of failure is answered."""

    status: int
    page: str  # which message widget/steps/_error.html shows
    detail: str  # the sentence a JSON caller gets
    retry: bool = False  # transient: the answer carries Retry-After


BILLING_DOWN = "The billing provider is briefly unavailable. Please try again in a moment."
SERVICE_DOWN = "The service is briefly unavailable. Please try again in a moment."
NO_SESSION = "No such session."
NO_SUBSCRIPTION = "No subscription is known for this customer."
BILLING_REFUSED = "The billing provider refused the request; check its API key and permissions."


def problem_of(exc: Exception) -> Problem:
    match exc:
        case FlowTokenError():
            return Problem(401, "session_expired", "The flow token is missing, expired or for another session.")
        case TokenError():
            return Problem(401, f"token_{exc.problem.value}", "The token is missing or not valid.")
        case SessionNotFound():
            return Problem(404, "session_not_found", NO_SESSION)
        case SubscriptionNotFound() | UnknownCustomer():
            return Problem(404, "subscription_not_found", NO_SUBSCRIPTION)
        case ProviderUnavailable():
            return Problem(503, "unavailable", BILLING_DOWN, retry=True)
        case ProviderRejected():
            return Problem(502, "unavailable", BILLING_REFUSED)
        case BillingError():
            return Problem(503, "unavailable", "The billing provider could not complete the request.")
        case FlowNotConfigured():
            return Problem(503, "unavailable", "No cancellation flow is published yet.")
        case InvalidInput():
            return Problem(422, "bad_request", exc.message)
        case InvalidTransition():
            return Problem(409, "bad_request", "The session cannot take that step now.")
        case UnreadableBody():
            return Problem(exc.status_code, "bad_request", exc.detail)
        case HTTPException():
            page = "not_found" if exc.status_code in (404, 405) else "bad_request"
            return Problem(exc.status_code, page if exc.status_code < 500 else "down", exc.detail)
        case _ if isinstance(exc, DATABASE_DOWN):
            return Problem(503, "down", SERVICE_DOWN, retry=True)
    return Problem(HTTP_500_INTERNAL_SERVER_ERROR, "down", "Internal Server Error")


def handle_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The app's exception handler: the widget's friendly page for /w, JSON for everything else."""
    problem = problem_of(exc)
    _log(request, exc, problem)
    headers = {"Cache-Control": "no-store"}
    if problem.retry:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    path = request.url.path
    if path.startswith("/w/") or (isinstance(exc, UnreadableBody) and path.startswith("/admin")):
        return error_page(request, problem.page, problem.status, headers)
    if isinstance(exc, HTTPException):
        return create_exception_response(request, exc)  # Litestar's own answer, as without this handler
    return Response(
        {"status_code": problem.status, "detail": problem.detail}, status_code=problem.status, headers=headers
    )


def _log(request: Request[Any, Any, Any], exc: Exception, problem: Problem) -> None:
    path = request.url.path
    if isinstance(exc, TokenError):
        log.warning("token refused on %s: %s (%s)", path, exc.problem, exc.detail)
    elif isinstance(exc, DATABASE_DOWN):
        log.error("database unavailable on %s: %r", path, exc)
    elif isinstance(exc, BillingError | FlowNotConfigured):
        log.error("cannot serve %s: %r", path, exc)
    elif problem.status >= HTTP_500_INTERNAL_SERVER_ERROR and not isinstance(exc, HTTPException):
        log.error("unexpected error on %s", path, exc_info=exc)


def error_page(request: Request[Any, Any, Any], kind: str, status: int, headers: dict[str, str]) -> Template:
    """A friendly page in the user's language, never a stack trace: the step partial for htmx, else a full page."""
    settings = request.app.state.settings
    origin = (request.query_params.get("origin") or "").rstrip("/")
    locale = negotiate(request.query_params.get("locale"), request.headers.get("accept-language"))
    partial = isinstance(request, HTMXRequest) and bool(request.htmx)
    return Template(
        template_name="widget/steps/_error.html" if partial else "widget/error.html",
        context={
            "kind": kind,
            # postMessage (the close button) only goes to an allowed host; anything else gets a plain page.
            "parent_origin": origin if origin in settings.allowed_origins else "",
            "locale": locale,
            "logo_url": settings.theme.logo_url,
            **gettext_callables(locale),
        },
        status_code=status,
        headers={"Vary": "HX-Request", **headers},
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    **dict.fromkeys((TokenError, SessionNotFound, UnknownCustomer, BillingError, FlowNotConfigured), handle_error),
    **dict.fromkeys((FlowError, HTTPException, *DATABASE_DOWN), handle_error),
    HTTP_500_INTERNAL_SERVER_ERROR: handle_error,  # anything unexpected: still no stack trace on the page
}
