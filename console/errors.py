"""Errors the operator can act on. The CLI maps them to exit codes; the console shows them in a dialog.

console.config.ConfigError (a bad winback.toml: exit code 2) is one of them too; it lives beside the config it
describes. Catch WinbackError for "an operator-level error, in words" — but the send path must not record a
ConfigError against recipients (console/campaigns/claim.py)."""

from storage.errors import SQLITE_BUSY, SQLITE_ENVIRONMENT, WinbackError

__all__ = ["SQLITE_BUSY", "SQLITE_ENVIRONMENT", "BadInput", "ChannelError", "ChannelSecretError",
           "ChannelSettingError", "NotFound", "WinbackError"]


class BadInput(WinbackError):
    """Bad usage or bad input: a file, a rule, a flag (exit code 2). Nothing was changed."""

    exit_code = 2


class NotFound(BadInput):
    """A named thing (segment, template, campaign, user) does not exist."""


class ChannelError(WinbackError):
    """A channel cannot be used as configured (missing setting, missing secret, login refused). Raised before
    anything is sent; an operator error (exit 1, one line naming the setting), never a traceback."""


class ChannelSettingError(ChannelError):
    """A [channels.NAME] setting that is missing or that its transport cannot use, found while the transport is
    built: `key` is the setting (within the channel's table), `problem` what is wrong and what to write, `missing`
    when it is not written at all. console.channels.open_channel says it as winback.toml's ConfigError — file, line
    (of the key, or of the table's header when the key is missing), key: exit 2. A transport built from a bare
    settings table (no file) raises it as the ChannelError it carries the words of."""

    def __init__(self, words: str, *, key: str, problem: str, missing: bool = False) -> None:
        super().__init__(words)
        self.key, self.problem, self.missing = key, problem, missing


class ChannelSecretError(ChannelError):
    """The environment variable a channel's setting names is not set, or holds what cannot be a secret: the
    environment's fault, not winback.toml's (a ChannelError, exit 1). `env` is the variable, `key` the setting that
    names it (within the channel's table; None when not known), `problem` what is wrong with it and the fix —
    never the value. console.channels.open_channel adds the winback.toml line that names it."""

    def __init__(self, words: str, *, env: str, key: str | None, problem: str) -> None:
        super().__init__(words)
        self.env, self.key, self.problem = env, key, problem
