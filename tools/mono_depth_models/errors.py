"""The one exception type that the CLI reports as a clean error message."""


class ToolError(Exception):
    """An expected failure (bad input file, no network, ...).

    The CLI prints its message without a traceback and exits non-zero.
    """
