"""Exception types of mtkit."""


class ConfigKeyError(KeyError):
    """A missing or unknown config key / data field. Unlike KeyError, prints its message as is
    (KeyError shows the repr, which escapes every quote in a long explanation)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''
