"""The exception root of wheel-ddmin."""

from __future__ import annotations


class WheelDdminError(Exception):
    """Root of every error wheel-ddmin raises on purpose."""


class InputError(WheelDdminError, ValueError):
    """The user's input is unusable (wheel, model, option)."""


class ElfError(WheelDdminError):
    """A shared object could not be read or rewritten."""


class OracleError(WheelDdminError):
    """The oracle could not be set up, or the original wheel does not pass it."""


class ReferenceTimeout(OracleError):
    """A run of the original wheel did not finish within the time it was given."""


class VerificationError(WheelDdminError):
    """The minimized wheel failed its final check after a real install."""


class BudgetExhausted(WheelDdminError):
    """The oracle-run or time budget ran out; the best result so far stands."""


class WheelDdminWarning(UserWarning):
    """Something the user should know, that does not stop the run (the CLI prints it as one line)."""
