"""Several models on one server: chosen by the OpenAI `model` field, listed, 404 with the known names."""

from __future__ import annotations

import openai
import pytest
from serve_fixtures import DEPLOYER_KEY, OTHER_USER_KEY, USER_KEY, make_config

from metaalign.engine import FakeEngine
from metaalign.errors import MetaAlignError
from metaalign.serve.config import ServeConfig, load_config, served_models
from metaalign.serve.registry import ModelRegistry
from metaalign.serve.serving import ChatService


def two_models() -> dict[str, FakeEngine]:
    return {
        "base": FakeEngine(respond=lambda r: f"base says {r.user_info}"),
        "aligned": FakeEngine(respond=lambda r: f"aligned says {r.user_info}"),
    }


def client(url: str, key: str = USER_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def ask(c: openai.OpenAI, model: str, user_info: str = "I am a chef.", **kw) -> str:
    reply = c.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"metaalign": {"user_info": user_info}},
        **kw,
    )
    return reply.choices[0].message.content


def test_the_model_field_picks_the_model_and_each_has_its_own_engine(serve) -> None:
    engines = two_models()
    with serve(models=engines) as s:
        c = client(s.url)
        assert ask(c, "aligned") == "aligned says I am a chef."
        assert ask(c, "base", "I am five.") == "base says I am five."
        stream = c.chat.completions.create(
            model="aligned", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert (
            "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices) == "aligned says None"
        )
        assert [m.id for m in c.models.list().data] == ["base", "aligned"]
        batchers = {name: service.batcher for name, service in s.registry.services.items()}
    assert [len(e.seen) for e in engines.values()] == [1, 2]
    assert batchers["base"] is not batchers["aligned"]


def test_an_unknown_model_is_404_naming_the_known_ones(serve) -> None:
    with serve(models=two_models()) as s, pytest.raises(openai.NotFoundError) as caught:
        ask(client(s.url), "gpt-4o")
    error = caught.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "'gpt-4o'" in error["message"] and "'base', 'aligned'" in error["message"]


def test_the_rate_limit_is_per_key_across_models(serve) -> None:
    with serve(models=two_models()) as s:
        c = client(s.url, OTHER_USER_KEY)  # 3 requests per minute
        for model in ("base", "aligned", "base"):
            ask(c, model)
        with pytest.raises(openai.RateLimitError):
            ask(c, "aligned")
        ask(client(s.url, DEPLOYER_KEY), "aligned")  # another key is not limited by bob's calls


def test_health_reports_each_model(serve) -> None:
    import httpx

    with serve(models=two_models()) as s:
        health = httpx.get(s.url + "/health").json()
    assert set(health["models"]) == {"base", "aligned"} and health["waiting"] == 0


def test_a_registry_refuses_two_models_of_one_name() -> None:
    config = make_config()
    services = [ChatService(FakeEngine(), config, name="m") for _ in range(2)]
    try:
        with pytest.raises(ValueError, match="two models are named 'm'"):
            ModelRegistry(services)
    finally:
        for service in services:
            service.batcher.close()


@pytest.mark.parametrize(
    ("specs", "config", "expected"),
    [
        (None, {}, {"metaalign": "default-ref"}),
        (None, {"model": "folder"}, {"metaalign": "folder"}),
        (None, {"models": {"a": "x", "b": "y"}}, {"a": "x", "b": "y"}),
        (["smollm2-135m"], {"models": {"a": "x"}}, {"metaalign": "smollm2-135m"}),
        (["base=smollm2-135m", "aligned=runs/m"], {}, {"base": "smollm2-135m", "aligned": "runs/m"}),
        (["m.gguf"], {"served_model_name": "mine"}, {"mine": "m.gguf"}),
        (["./a=b/model"], {}, {"metaalign": "./a=b/model"}),  # not a name before '=': a path
    ],
)
def test_served_models_from_flags_or_config(specs, config, expected) -> None:
    assert served_models(ServeConfig(**config), specs, "default-ref") == expected


@pytest.mark.parametrize(
    ("specs", "needle"),
    [(["a=x", "a=y"], "the name 'a' is given twice"), (["a="], "the reference is empty")],
)
def test_bad_model_flags_say_what_is_wrong(specs, needle) -> None:
    with pytest.raises(MetaAlignError, match=needle):
        served_models(ServeConfig(), specs, "default-ref")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("models:\n  base: smollm2-135m\n  'bad name': x\n", "model name 'bad name'"),
        ("models: {}\n", "name at least one model"),
        ("model: a\nmodels:\n  b: c\n", "not both"),
    ],
)
def test_bad_models_in_the_config_name_the_file(tmp_path, text, needle) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text(text)
    with pytest.raises(MetaAlignError) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and needle in str(caught.value)
