"""The `metaalign` command line: one module per command group, torch imported lazily."""
