"""The one exception type for problems a user can fix (bad config, bad image, missing weights).

The CLI prints its message as a single line and exits with code 2; anything else is a bug and
keeps its traceback.
"""


class UserError(Exception):
    """A problem in the user's input; the message names the file/key/value and what to do."""
