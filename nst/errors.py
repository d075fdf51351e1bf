"""The one exception type for problems a user can fix (bad config, bad image, missing weights).

The CLI prints its message as a single line and exits with code 2; anything else is a bug and
keeps its traceback.
"""

import reprlib
import typing


class UserError(Exception):
    """A problem in the user's input; the message names the file/key/value and what to do."""


# Nested and long values are abbreviated as they are printed, never printed whole and then cut:
# a YAML alias can make a short file hold a list that would print billions of items.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60


def show_value(value: typing.Any) -> str:
    """A value as an error message quotes it: on one line (control characters escaped), short."""
    if value is None:
        text = "null"
    elif isinstance(value, str) and value.isprintable():
        text = f"'{value}'"
    else:
        text = _REPR.repr(value)
    return shorten(text)


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(error: typing.Any) -> str:
    return " ".join(str(error).split())
