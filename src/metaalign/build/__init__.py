"""`metaalign build`: MetaAlign datasets from instructions and a preference library.

Owns the pipeline (sample K candidates, assign meta-prompts, make responses that satisfy them,
annotate pairs, export SFT / DPO / held-out test splits with stats), its SQLite store and config.
Does not own the preferences, checkers or priority rules (metaalign.preferences) nor the judge.
"""

from metaalign.build.build_config import BuildConfig, EndpointConfig, MixConfig, PolicyConfig, load_config
from metaalign.build.pipeline import BuildIncomplete, BuildResult, run_build

__all__ = [
    "BuildConfig",
    "BuildIncomplete",
    "BuildResult",
    "EndpointConfig",
    "MixConfig",
    "PolicyConfig",
    "load_config",
    "run_build",
]
