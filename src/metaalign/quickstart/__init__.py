"""The `metaalign quickstart` pipeline: build, train SFT then DPO, evaluate, export, report.

quickstart_pipeline.py wires the stages (run by metaalign.stages), verdict.py judges the result.
"""
