"""Records to TRL's conversational dataset formats, through the one renderer.

Owns the mapping SFTRecord -> {"messages"} and PreferenceRecord -> {"prompt", "chosen",
"rejected"} (TRL's standard conversational formats). The meta-prompt placement and the
neutralisation are the renderer's, so TRL only applies the same chat template on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from metaalign.records.schema import PreferenceRecord, SFTRecord
from metaalign.render import Renderer


def sft_example(record: SFTRecord, renderer: Renderer) -> dict[str, Any]:
    """TRL's conversational language-modeling format: {"messages": [...]}."""
    return {"messages": renderer.messages(record.system_info, record.user_info, record.messages)}


def preference_example(record: PreferenceRecord, renderer: Renderer) -> dict[str, Any]:
    """TRL's conversational preference format with an explicit prompt.

    The prompt keeps the full meta-prompt; chosen and rejected are single assistant turns.
    """
    apply = renderer.neutralizer.apply
    return {
        "prompt": renderer.messages(record.system_info, record.user_info, record.prompt),
        "chosen": [{"role": "assistant", "content": apply(record.chosen)}],
        "rejected": [{"role": "assistant", "content": apply(record.rejected)}],
    }


def token_length(record: SFTRecord | PreferenceRecord, renderer: Renderer) -> int:
    """Tokens of the whole rendered record: the dialogue, or the prompt plus the longer completion."""
    if isinstance(record, SFTRecord):
        dialogues = [list(record.messages)]
    else:
        dialogues = [
            [*record.prompt, {"role": "assistant", "content": c}] for c in (record.chosen, record.rejected)
        ]
    tiers = (record.system_info, record.user_info)
    return max(len(renderer.tokenize(*tiers, dialogue).input_ids) for dialogue in dialogues)


def trl_examples(records: Iterable[SFTRecord | PreferenceRecord], renderer: Renderer) -> Iterator[dict]:
    """Each record in the TRL format of its kind."""
    for record in records:
        if isinstance(record, PreferenceRecord):
            yield preference_example(record, renderer)
        else:
            yield sft_example(record, renderer)
