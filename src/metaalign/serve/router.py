"""The FastAPI app of `metaalign serve`: routes, error mapping and the OpenAPI spec.

Owns HTTP only: `/v1/chat/completions`, `/v1/models`, `/health`, `/openapi.json`, the playground's
`/v1/metaalign/info` and `/v1/metaalign/render` (and its page, playground/), mapping the service's
answers to responses, and turning every bad request into a 4xx in the OpenAI error format (never a
5xx). Every step of a request (keys, limits, tiers, queue) is serving.py's and registry.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from metaalign import __version__
from metaalign.serve.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    ErrorResponse,
    ModelCard,
    ModelList,
    RenderResponse,
    ServerInfo,
    error_payload,
)
from metaalign.serve.registry import ModelRegistry
from metaalign.serve.serving import APIError, ChatService, ClientGone
from metaalign.serve.trust import Refused

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": why}
    for code, why in [
        (400, "invalid request (JSON, types, roles, lengths)"),
        (401, "no or wrong API key"),
        (403, "a user key tried to set System Info"),
        (404, "unknown model (the message lists the known ones)"),
        (429, "rate limit (Retry-After)"),
        (503, "queue full (Retry-After)"),
    ]
}
KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "overloaded_error",
}


def build_app(models: ChatService | ModelRegistry) -> FastAPI:
    """The ASGI app serving one model or several; every batcher is closed when the app shuts down.

    `models` is anything with ModelRegistry's methods (the tests pass a fake one).
    """
    registry = ModelRegistry([models]) if isinstance(models, ChatService) else models

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        registry.close()

    app = FastAPI(
        lifespan=lifespan,
        title="MetaAlign OpenAI-compatible server",
        version=__version__,
        description="OpenAI chat completions with per-request User Info. The `metaalign` request and "
        "response objects and the /v1/metaalign/* routes are MetaAlign extensions, outside the OpenAI spec.",
    )
    _add_error_handlers(app)
    _pin_model_names(app, registry.names)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return registry.health()

    @app.get("/v1/models", response_model=ModelList, responses=ERRORS)
    async def models_route(authorization: Annotated[str | None, Header()] = None) -> ModelList:
        registry.authenticate(authorization)
        return ModelList(data=[ModelCard(id=name) for name in registry.names])

    @app.post("/v1/chat/completions", response_model=ChatCompletionResponse, responses=ERRORS)
    async def chat_completions(
        body: ChatCompletionRequest, raw: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        try:
            reply = await registry.handle(body, authorization, raw.is_disconnected)
        except ClientGone:  # nobody is listening; the request was dropped from the batch
            return Response(status_code=499)
        if reply.stream is not None:
            return StreamingResponse(reply.stream, media_type="text/event-stream", headers=reply.headers)
        assert reply.response is not None  # handle() answers a stream or a response
        return JSONResponse(reply.response.model_dump(), headers=reply.headers)

    if registry.config.playground:
        _add_playground_routes(app, registry)
    return app


def _add_playground_routes(app: FastAPI, registry: ModelRegistry) -> None:
    """The page and the two routes it needs beyond the OpenAI ones (outside the OpenAI spec)."""
    from metaalign.serve.playground import add_page

    add_page(app)

    @app.get("/v1/metaalign/info", response_model=ServerInfo, responses=ERRORS)
    async def info(authorization: Annotated[str | None, Header()] = None) -> ServerInfo:
        """MetaAlign extension: the key's role, the models, the limits, and the deployer's System Info
        for a deployer key (a user key gets null and `system_info_hidden`)."""
        return registry.info(registry.authenticate(authorization))

    @app.post("/v1/metaalign/render", response_model=RenderResponse, responses=ERRORS)
    async def render(
        body: ChatCompletionRequest, authorization: Annotated[str | None, Header()] = None
    ) -> RenderResponse:
        """MetaAlign extension: the prompt a chat completions body becomes, exactly as the model sees it
        (for a user key, the deployer's System Info text is replaced by a marked placeholder)."""
        key = registry.authenticate(authorization)
        return await registry.get(body.model).render(body, key)


def _pin_model_names(app: FastAPI, names: list[str]) -> None:
    """The served spec lists the model names this server answers to (others get 404)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            model = schema["components"]["schemas"]["ChatCompletionRequest"]["properties"]["model"]
            model["enum"] = names
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(_request: Request, err: Refused) -> JSONResponse:
        headers = err.headers if isinstance(err, APIError) else {}
        kind = KINDS.get(err.status, "invalid_request_error")
        payload = error_payload(err.message, kind, param=err.param, code=err.code)
        return JSONResponse(payload, status_code=err.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in err.errors()[:5]]
        if isinstance(err.body, bytes | str):  # sent without a JSON content type: say what is wrong
            problems = [_json_problem(err.body)]
        param = _location(err.errors()[0]) if err.errors() else None
        payload = error_payload(
            "; ".join(problems), "invalid_request_error", param=param, code="invalid_request"
        )
        return JSONResponse(payload, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        kind = KINDS.get(err.status_code, "invalid_request_error")
        return JSONResponse(error_payload(str(err.detail), kind), status_code=err.status_code)


def _location(error: dict[str, Any]) -> str:
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def _describe(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return f"the body is not valid JSON: {error.get('ctx', {}).get('error', error.get('msg'))}"
    where = _location(error)
    if where == "body" and error.get("type") in ("model_attributes_type", "dict_type"):
        return "the body must be a JSON object (is it valid JSON?)"
    if error.get("type") == "missing":
        return f"{where}: this field is required"
    return f"{where}: {error.get('msg')}"


def _json_problem(raw: bytes | str) -> str:
    """Why a body that was not parsed as JSON was refused."""
    import json

    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        return f"the body is not valid JSON: {err}"
    if not isinstance(value, dict):
        return "the body must be a JSON object"
    return "send the JSON body with the header 'Content-Type: application/json'"
