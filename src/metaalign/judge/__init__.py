"""LLM-as-judge and LLM rewriting under a meta-prompt, with their prompts as versioned data files.

Owns the pairwise judge (position swap, ties, unparsable replies) and the rewriter. It does not
pick what to judge (metaalign.build, metaalign.eval do) nor talk HTTP (metaalign.endpoints does).
"""

from metaalign.judge.judge import PairwiseJudge, Verdict, combine, parse_verdict
from metaalign.judge.prompts import PromptTemplate, load_prompt
from metaalign.judge.rewrite import Rewriter

__all__ = [
    "PairwiseJudge",
    "PromptTemplate",
    "Rewriter",
    "Verdict",
    "combine",
    "load_prompt",
    "parse_verdict",
]
