"""The meta-prompt layout: the versioned template that places System Info and User Info.

Owns loading `templates/meta_prompt.v<N>.yaml`, filling empty tiers with their documented
defaults, formatting the meta-prompt block, and parsing a rendered text back into its two
tiers. It does not know about chat templates or tokenizers (see renderer.py), and it does
not decide which tier wins a conflict (that is the priority matrix's job).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from metaalign.errors import TemplateError
from metaalign.render.escape import Neutralizer

LAYOUT_VERSION = 1


@dataclass(frozen=True)
class MetaPrompt:
    """The two tiers after defaults: what the model is told, before escaping."""

    system_info: str
    user_info: str


@dataclass(frozen=True)
class Layout:
    """One version of the meta-prompt layout, as read from its template file."""

    version: int
    system_tag: str
    user_tag: str
    template: str
    default_system_info: str
    default_user_info: str
    fold_separator: str

    @property
    def tag_names(self) -> tuple[str, str]:
        return (self.system_tag, self.user_tag)

    def with_defaults(self, system_info: str | None, user_info: str | None) -> MetaPrompt:
        """Fill a missing or blank tier with its documented default text."""
        return MetaPrompt(
            system_info=system_info if system_info and system_info.strip() else self.default_system_info,
            user_info=user_info if user_info and user_info.strip() else self.default_user_info,
        )

    def block(self, system_info: str | None, user_info: str | None, neutralizer: Neutralizer) -> str:
        """The meta-prompt block the model sees, with caller text neutralised."""
        tiers = self.with_defaults(system_info, user_info)
        return self.template.format(
            system_info=neutralizer.apply(tiers.system_info),
            user_info=neutralizer.apply(tiers.user_info),
        )

    def parse(self, text: str, neutralizer: Neutralizer) -> MetaPrompt:
        """Recover the two tiers from any text holding one rendered block (a system message,
        a folded first user turn or a whole rendered prompt). Exactly one opening and one
        closing tag of each tier must be present, in layout order."""
        tags = neutralizer.tier_tags_in(text)
        expected = [(0, False), (0, True), (1, False), (1, True)]
        if [(tag.tier, tag.closing) for tag in tags] != expected:
            raise TemplateError(
                f"expected exactly one <{self.system_tag}> block then one <{self.user_tag}> block, "
                f"found tags {[text[tag.start : tag.end] for tag in tags]}"
            )
        sys_open, sys_close, user_open, user_close = tags
        return MetaPrompt(
            system_info=neutralizer.restore(_inner(text, sys_open.end, sys_close.start)),
            user_info=neutralizer.restore(_inner(text, user_open.end, user_close.start)),
        )


def _inner(text: str, start: int, end: int) -> str:
    """The tier's text between its tags, without the one newline the layout puts each side."""
    inner = text[start:end]
    inner = inner[1:] if inner.startswith("\n") else inner
    return inner[:-1] if inner.endswith("\n") else inner


@cache
def load_layout(version: int = LAYOUT_VERSION) -> Layout:
    """Read the layout template file shipped with the package."""
    name = f"meta_prompt.v{version}.yaml"
    path = resources.files("metaalign.render") / "templates" / name
    if not path.is_file():
        raise TemplateError(f"no meta-prompt layout version {version} (looked for templates/{name})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return Layout(
            version=int(data["version"]),
            system_tag=data["tags"]["system_info"],
            user_tag=data["tags"]["user_info"],
            template=data["layout"],
            default_system_info=data["defaults"]["system_info"],
            default_user_info=data["defaults"]["user_info"],
            fold_separator=data["fold_separator"],
        )
    except (KeyError, TypeError) as err:
        raise TemplateError(f"templates/{name}: missing or malformed field {err}") from err
