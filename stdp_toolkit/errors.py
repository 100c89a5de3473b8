"""One exception type for mistakes a user can fix (bad files, bad config values, bad sizes).

The CLI prints these as a single line and exits non-zero; everything else is a bug and keeps
its traceback.
"""


class UserError(Exception):
    """A problem in the user's input: the message names the problem and the fix."""
