"""The harness's one error type for bad input; command lines report it in one line, exit 2."""


class UserError(Exception):
    """A mistake in the caller's input (an option, a file, a run folder), not a bug."""
