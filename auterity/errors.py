"""Errors the kernel raises for bad configuration or unreachable dependencies."""


class ConfigError(Exception):
    """A setting is missing, malformed or unsafe; the message names the setting."""


class DependencyUnavailable(Exception):
    """A service Auterity needs (database, Temporal) cannot be reached."""
