"""Errors a user can cause. The CLI prints their message on one line and exits non-zero."""


class UserError(Exception):
    """A mistake in the user's input: the message names the file, line or record and what is wrong."""

    exit_code = 2


class InputError(UserError):
    """An input file that cannot be read as records or labels."""

    def __init__(self, path, message: str, line: int | None = None):
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line
