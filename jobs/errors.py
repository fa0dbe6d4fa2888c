"""Errors that map to the contract's exit statuses."""


class TenkenError(Exception):
    """Anything else: exit status 1."""

    exit_code = 1


class UsageError(TenkenError):
    """Bad usage, configuration or input layout: exit status 2, one-line reason."""

    exit_code = 2


class GateFailed(TenkenError):
    """A validation gate failed and nothing was published: exit status 3."""

    exit_code = 3
