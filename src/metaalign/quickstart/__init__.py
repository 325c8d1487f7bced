"""The `metaalign quickstart` pipeline: build, train SFT then DPO, evaluate, export, report.

stages.py runs and resumes stages, pipeline.py wires them, report.py judges the result.
"""
