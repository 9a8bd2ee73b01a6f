"""Auterity's shared kernel: settings, database, Temporal client, command line."""

__version__ = "0.1.0"
