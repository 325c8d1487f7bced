"""The models one server answers for: a name -> ChatService map, chosen by the OpenAI `model` field.

Owns finding a request's model (an unknown name is a 404 that lists the known ones), the API
keys and rate limits that all models share, what `/v1/metaalign/info` tells a key, and closing
every model's batcher. Each model keeps its own engine, memory and batcher (serving.py,
batcher.py); HTTP is router.py's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from metaalign.serve.config import KeyConfig, ServeConfig
from metaalign.serve.protocol import ChatCompletionRequest, ServerInfo
from metaalign.serve.serving import APIError, ChatService, Disconnected, RateLimiter, Reply
from metaalign.serve.trust import config_source, hides_system_info


class ModelRegistry:
    """Several ChatServices under one set of keys; the first one is the default in listings."""

    def __init__(self, services: Iterable[ChatService]) -> None:
        self.services: dict[str, ChatService] = {}
        for service in services:
            if service.name in self.services:
                raise ValueError(f"two models are named '{service.name}'")
            self.services[service.name] = service
        if not self.services:
            raise ValueError("a server needs at least one model")
        first = next(iter(self.services.values()))
        self.config: ServeConfig = first.config
        self.limiter = RateLimiter()  # a key's rate is per server, whichever model it calls
        for service in self.services.values():
            service.limiter = self.limiter

    @property
    def names(self) -> list[str]:
        return list(self.services)

    def get(self, model: str) -> ChatService:
        """The service named `model`; an unknown name is a 404 that lists the names served."""
        service = self.services.get(model)
        if service is None:
            known = ", ".join(f"'{n}'" for n in self.services)
            raise APIError(
                404, f"model '{model}' is not served here; known models: {known}", "model_not_found", "model"
            )
        return service

    async def handle(
        self, body: ChatCompletionRequest, authorization: str | None, disconnected: Disconnected | None = None
    ) -> Reply:
        """A chat completion, handled by the model it names (ChatService.handle)."""
        if body.model not in self.services:
            self.authenticate(authorization)  # a wrong key is a 401 whichever model it names
        return await self.get(body.model).handle(body, authorization, disconnected)

    def authenticate(self, authorization: str | None) -> KeyConfig:
        return next(iter(self.services.values())).authenticate(authorization)

    def info(self, key: KeyConfig) -> ServerInfo:
        """What the playground needs for `key`; the deployer's System Info only for a deployer key."""
        from metaalign.render.layout import load_layout

        hidden = hides_system_info(key.role, config_source(self.config))
        return ServerInfo(
            role=key.role,
            key_name=key.name,
            system_info=None if hidden else self.config.system_info,
            system_info_hidden=hidden,
            default_system_info=load_layout().default_system_info,
            system_message_policy=self.config.system_message_policy,
            models=self.names,
            default_max_tokens=self.config.default_max_tokens,
            max_tokens_limit=self.config.max_tokens_limit,
        )

    def health(self) -> dict[str, Any]:
        """Queue state per model, and the totals the single-model server always reported."""
        per_model = {
            name: {
                "waiting": len(s.batcher.waiting),
                "running": s.batcher.running,
                "cancelled": s.batcher.cancelled,
            }
            for name, s in self.services.items()
        }
        return {
            "status": "ok",
            "waiting": sum(m["waiting"] for m in per_model.values()),
            "running": sum(m["running"] for m in per_model.values()),
            "cancelled": sum(m["cancelled"] for m in per_model.values()),
            "models": per_model,
        }

    def close(self) -> None:
        """Every batcher stops taking work; in-flight rows end within the shutdown bound."""
        for service in self.services.values():
            service.batcher.close(service.config.shutdown_timeout_s)
