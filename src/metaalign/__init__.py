"""MetaAlign: align LLMs with preferences given at inference time.

This package owns the three-tier meta-prompt (System Info, User Info, Dialogue), the
records and renderer every stage shares, and the command line. Importing it pulls in
no torch; model code is imported inside the functions that need it.
"""

__version__ = "0.1.0"
