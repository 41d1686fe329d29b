"""Oracles: what judges a candidate (inference on TensorFlow Lite models, the user's own checks)."""

from __future__ import annotations

from oracles.protocol import Oracle, Outcome, Verdict

__all__ = ["Oracle", "Outcome", "Verdict"]
