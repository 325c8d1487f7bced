"""OpenAI-compatible chat endpoints: the `ChatClient` protocol, an httpx client, and fakes.

Owns calling an endpoint (concurrency, retries, usage and cost); build, judge and eval use it.
It does not render prompts nor parse what the model says. Importing it pulls in httpx only.
"""

from metaalign.endpoints.client import (
    ChatClient,
    ChatResult,
    EndpointError,
    OpenAIChatClient,
    Usage,
    retry_after_seconds,
)
from metaalign.endpoints.fake import FakeChatClient, FakeOpenAIServer, LoggedRequest, echo_reply

__all__ = [
    "ChatClient",
    "ChatResult",
    "EndpointError",
    "FakeChatClient",
    "FakeOpenAIServer",
    "LoggedRequest",
    "OpenAIChatClient",
    "Usage",
    "echo_reply",
    "retry_after_seconds",
]
