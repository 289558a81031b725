"""The live application: a PyQt6 split-screen window (B-mode left, regional quality right).

FAST must be imported before PyQt6; importing this package does that.
"""
import fast  # noqa: F401  (before any PyQt6 import)
