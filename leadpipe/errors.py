"""Errors a user can fix: the CLI prints them as one line, never a traceback."""


class UserError(Exception):
    """A problem with the user's input or set-up (a file, a flag, a setting)."""
