"""The one exception users see: a one-line message, no traceback (a click usage-style error)."""

import click


class BenchError(click.ClickException):
    """A problem the user can fix (bad input, missing data, unknown name); printed as one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
