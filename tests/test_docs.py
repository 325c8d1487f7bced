"""Every shell command shown in docs/*.md is accounted for, as tests/test_readme.py does for the README.

Each command is matched by exactly one rule below: RUN (run here, slow), README (the same line is
in the README, so tests/test_readme.py runs it), a named test that runs it, or ILLUSTRATIVE with
the reason it is not run. Whatever the rule, every `metaalign` command must parse with today's
CLI, its overrides must parse, and the repository files it names must exist, so a renamed flag or
a moved recipe fails here even for a command that is too big to run.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").rglob("*.md"))
SHELLS = ("bash", "sh", "shell", "console")
README_TEST = "README"
RUN = "RUN"

FULL_SIZE = "a full-size run (tens of minutes to hours on 2 CPU cores); its toy form is in the README"
NEEDS_QUICKSTART = "needs the model of a finished quickstart run (runs/quickstart/model)"
GPU = "a Qwen2.5-7B recipe for GPUs (scripts/gpu_check_*.sh runs it where a GPU is present)"
THIRD_PARTY = "runs a third-party program (llama.cpp, Ollama) that this project does not install"
PLACEHOLDER = "names the reader's own model, data or judge endpoint (placeholders)"

# (doc, the command's first words, how it is covered): each command must match exactly one rule
RULES: list[tuple[str, str, str]] = [
    ("build.md", "metaalign build --config recipes/build/smollm2-135m.yaml", FULL_SIZE),
    ("build.md", "metaalign build --config recipes/build/smollm2-135m.yaml --instructions_train 40",
     "a 40-instruction build (minutes); the README's toy build, the same command smaller, is run"),
    ("build.md", "metaalign build --config recipes/build/endpoint.yaml --endpoint.base_url",
     "needs the reader's OpenAI-compatible endpoint (NAME is a placeholder)"),
    ("build.md", "metaalign build --config recipes/build/endpoint.yaml --output-dir OUT",
     "tests/build/test_live_endpoint.py"),
    ("build.md", "metaalign eval judge --model smollm2-135m --baseline base --test-split",
     "tests/build/test_live_endpoint.py"),
    ("eval.md", "metaalign eval verifiable --model smollm2-135m --baseline base-no-meta --out runs/base",
     "the whole built-in suite: about 13 minutes per system; the README's eval line is its toy form"),
    ("eval.md", "metaalign eval verifiable --model ./my-metaaligned-model", PLACEHOLDER),
    ("eval.md", "metaalign eval judge --model ./my-model", PLACEHOLDER),
    ("eval.md", "metaalign eval pairs --model ./my-model", PLACEHOLDER),
    ("eval.md", "metaalign eval compare runs/base runs/tuned",
     "joins the two full runs above; the README's `eval compare` line runs the same command on toy runs"),
    ("eval.md", "metaalign eval verifiable --model smollm2-135m --baseline base-no-meta --batch-size 32",
     "the measured full-suite run (about 50 minutes); kept as the record of how the table was made"),
    ("eval.md", "metaalign eval verifiable --model smollm2-135m --batch-size 32 --threads 2",
     "the measured full-suite timing (about 13 minutes); the README's eval line is its toy form"),
    ("export.md", "metaalign export runs/quickstart/model", NEEDS_QUICKSTART),
    ("export.md", "metaalign render --model runs/quickstart/model", NEEDS_QUICKSTART),
    ("export.md", "metaalign render --model model.gguf",
     "needs the GGUF written from a finished quickstart (tests/models/test_gguf_export.py renders one)"),
    ("export.md", "llama-server", THIRD_PARTY),
    ("export.md", "curl http://127.0.0.1:8080", THIRD_PARTY),
    ("export.md", "ollama", THIRD_PARTY),
    ("results/recipes.md", "python -m metaalign.quickstart.search recipes/search/proxy.yaml --only", RUN),
    ("train.md", "metaalign train sft --config recipes/smollm2-135m/sft.yaml --train_file", README_TEST),
    ("train.md", "metaalign export runs/toy-sft --out runs/toy-sft-merged", RUN),
    ("train.md", "metaalign train sft --config recipes/smollm2-135m/sft.yaml", FULL_SIZE),
    ("train.md", "metaalign train dpo --config recipes/smollm2-135m/dpo.yaml", FULL_SIZE),
    ("train.md", "metaalign train two-stage --config recipes/smollm2-135m/two-stage.yaml", FULL_SIZE),
    ("train.md", "metaalign export runs/smollm2-135m-two-stage", README_TEST),
    ("train.md", "accelerate launch --config_file recipes/accelerate/ddp-cpu.yaml",
     "full-size recipes under 2 processes; tests/train/test_accelerate_launch.py and "
     "test_accelerate_stages.py run the same launches at toy size"),
    ("train.md", "accelerate launch --config_file recipes/accelerate/zero", GPU),
    ("train.md", "accelerate launch --config_file recipes/accelerate/fsdp.yaml", GPU),
]  # fmt: skip


def doc_commands() -> list[tuple[str, str]]:
    """(doc path relative to docs/, command) for every line of every shell block, continuations
    joined and trailing comments dropped."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for lang in SHELLS:
            for block in re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL):
                for line in block.replace("\\\n", " ").splitlines():
                    command = shlex.join(shlex.split(line, comments=True))
                    if command:
                        found.append((str(doc.relative_to(ROOT / "docs")), command))
    return found


def _words(command: str) -> str:
    return shlex.join(shlex.split(command))


def rule_for(doc: str, command: str) -> tuple[str, str, str]:
    """The one rule whose prefix is the longest match (a general prefix yields to a longer one)."""
    matches = [r for r in RULES if r[0] == doc and (command + " ").startswith(_words(r[1]) + " ")]
    if not matches:
        matches = [r for r in RULES if r[0] == doc and command.startswith(_words(r[1]))]
    assert matches, f"docs/{doc}: `{command}` is not covered: add a rule to RULES (run it or say why not)"
    return max(matches, key=lambda r: len(r[1]))


def test_every_doc_command_has_exactly_one_rule_and_every_rule_is_used() -> None:
    commands = doc_commands()
    assert len(commands) >= 20  # the docs' shell blocks were found at all
    used = {rule_for(doc, command) for doc, command in commands}
    unused = [r[:2] for r in RULES if r not in used]
    assert not unused, f"rules that match no doc command any more: {unused}"
    for _doc, _prefix, how in RULES:
        assert how in (RUN, README_TEST) or len(how) > 20, how  # a reason, not a shrug


def test_readme_rules_name_lines_the_readme_runs() -> None:
    from test_readme import shell_lines

    shown = {shlex.join(shlex.split(line, comments=True)) for line in shell_lines()}
    for doc, command in doc_commands():
        if rule_for(doc, command)[2] == README_TEST:
            assert command in shown, f"docs/{doc}: `{command}` is not in the README word for word"


def test_named_tests_exist() -> None:
    for _doc, _prefix, how in RULES:
        for name in re.findall(r"tests/[\w/]+\.py", how):
            assert (ROOT / name).exists(), name


def _metaalign_args(command: str) -> list[str] | None:
    """The `metaalign` arguments of a command (also under `accelerate launch -m metaalign.cli.main`)."""
    words = shlex.split(command)
    if words[0] == "metaalign":
        return words[1:]
    if "metaalign.cli.main" in words:
        return words[words.index("metaalign.cli.main") + 1 :]
    return None


@pytest.mark.parametrize(("doc", "command"), doc_commands(), ids=lambda v: v[:60])
def test_each_command_parses_and_names_files_that_exist(doc: str, command: str) -> None:
    from metaalign.cli.main import build_parser
    from metaalign.overrides import parse_overrides

    words = shlex.split(command)
    if words[-1] == "...":  # an abridged command: the doc says what the rest is
        command = shlex.join(words := words[:-1])
    for word in words:  # repository files the command names (the reader's own paths are theirs)
        if re.match(r"(recipes|examples|docs)/", word):
            assert (ROOT / word).exists(), f"docs/{doc}: `{command}` names {word}, which is missing"
    args = _metaalign_args(command)
    if args is None:
        return
    parsed = build_parser().parse_args(args)  # argparse exits on an unknown or renamed flag
    parse_overrides(getattr(parsed, "overrides", []), warn=pytest.fail)  # and never the deprecated --set
    check_config(parsed)


def check_config(parsed) -> None:
    """The recipe a command names, with its overrides, passes the command's own config checks."""
    if parsed.command == "build":
        from metaalign.build import load_config

        load_config(ROOT / parsed.config, parsed.overrides)
    elif parsed.command == "train":
        from metaalign.train.config_io import load
        from metaalign.train.configs import dpo_config, sft_config
        from metaalign.train.two_stage_pipeline import split_config

        values = load(ROOT / parsed.config if parsed.config else None, parsed.overrides)
        if parsed.stage == "two-stage":
            split_config(values)
            return
        (sft_config if parsed.stage == "sft" else dpo_config)(values)  # the checks `train` runs first


# a RUN command that needs an earlier line's output -> that line's first words
NEEDS = {
    "metaalign export runs/toy-sft": "metaalign train sft --config recipes/smollm2-135m/sft.yaml --train_file"
}


@pytest.mark.slow
def test_the_runnable_doc_commands_run(tmp_path: Path) -> None:
    """RUN commands, in the order a reader meets them, in a copy of the examples and recipes."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    (tmp_path / "docs" / "results").mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "results" / "recipes.md", tmp_path / "docs" / "results" / "recipes.md")
    commands = doc_commands()
    runnable = [(doc, c) for doc, c in commands if rule_for(doc, c)[2] == RUN]
    assert runnable
    for doc, command in runnable:
        for prefix, earlier in NEEDS.items():
            if command.startswith(prefix):
                (needed,) = [c for d, c in commands if d == doc and c.startswith(earlier)]
                _run(needed, tmp_path)
        result = _run(command.replace("python -m", f"{sys.executable} -m", 1), tmp_path)
        assert result.stdout.strip() or "--table" in command, f"{command} printed nothing"
    assert (tmp_path / "runs" / "toy-sft-merged" / "config.json").exists()
    assert "<!-- search-table:start -->" in (tmp_path / "docs" / "results" / "recipes.md").read_text()


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    from test_readme import readme_env

    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=readme_env(), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result
