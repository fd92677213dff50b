"""The API reference: the OpenAPI document (the public API and the webhooks we send) and its one page, /schema.

Rules: a route is documented only when it opts in through `documented()`; the app leaves every other
route out (admin and widget pages, the demo, health probes, /metrics, the billing vendors' inbound webhooks).
The page is the vendored Swagger UI (service/static/vendor/swagger-ui, see its README) started by
static/api_docs.js: no CDN and no inline script or style, so the pages' CSP applies unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Router
from litestar.exceptions import ImproperlyConfiguredException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import Tag

from service import __version__
from service.http.api import BEARER_SCHEME
from service.http.outbound_docs import outbound_webhooks

if TYPE_CHECKING:
    from litestar import Request
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import ControllerRouterHandler, Method

DOCS_PATH = "/schema"  # the page; the document itself is DOCS_PATH + "/openapi.json"

DESCRIPTION = """\
The server API of Save flow, for your app's backend: read a customer's subscription status to gate access,
end a pause, read, list and export cancellation sessions and their feedback, and export or erase what is
held about a customer. Below it, the webhooks Save flow sends to your app.

**Authentication.** Send `Authorization: Bearer <SAVEFLOW_API_KEY>` with every request. To try requests on
this page, enter the key under **Authorize**; it is kept only until the page is closed.

**Errors** are JSON: `{"status_code": 404, "detail": "No such session."}`, where `detail` is a sentence for a
person. A 400 names the parameter that is not valid; a 503 carries `Retry-After` and is safe to retry.

**Webhooks to your app.** Register an endpoint with `python -m service add-webhook URL [--event TYPE]` or in
the admin's Settings. Each delivery is a JSON `POST` signed per Standard Webhooks with the endpoint's
`whsec_…` secret (any Standard Webhooks library verifies it). A retry or a replay carries the same
`webhook-id`: deduplicate on it.
"""

TAGS = [Tag(name="api", description="The server API (`/api/v1`): JSON, authenticated with the API key.")]


class SwaggerPage(OpenAPIRenderPlugin):
    """The reference page at DOCS_PATH (templates/api_docs.html); the document is fetched from the same origin."""

    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        engine = request.app.template_engine
        if engine is None:
            raise ImproperlyConfiguredException("the API reference page needs the app's template engine")
        page: str = engine.get_template("api_docs.html").render(
            title=openapi_schema["info"]["title"], spec_url=self.get_openapi_json_route(request)
        )
        return page.encode()


def _operation_id(handler: HTTPRouteHandler, method: Method, path: list[Any]) -> str:
    """The handler's function name (`get_session`): stable, readable, and what the page's deep links show."""
    return handler.handler_name if len(handler.http_methods) == 1 else f"{method.lower()}_{handler.handler_name}"


def documented(*handlers: ControllerRouterHandler) -> Router:
    """These handlers, opted in to the OpenAPI document (the app's `include_in_schema=False` leaves out the rest)."""
    return Router(path="/", route_handlers=list(handlers), include_in_schema=True)


def openapi_config() -> OpenAPIConfig:
    """The document at /schema/openapi.json and the page at /schema; the other UIs Litestar offers are not served."""
    return OpenAPIConfig(
        title="Save flow API",
        version=__version__,  # the package's version: one number everywhere
        description=DESCRIPTION,
        path=DOCS_PATH,
        components=[BEARER_SCHEME],
        tags=TAGS,
        webhooks=outbound_webhooks(),
        use_handler_docstrings=True,  # a handler's docstring is its operation's description
        operation_id_creator=_operation_id,
        render_plugins=[SwaggerPage(), JsonRenderPlugin()],
    )
