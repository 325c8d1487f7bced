"""The `metaalign quickstart` pipeline: build, train SFT then DPO, evaluate, export, report."""
