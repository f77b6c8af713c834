"""Errors the domain raises; every message tells a person what to do next."""


class DomainError(Exception):
    """A command broke a rule of the domain (nothing was recorded)."""


class DatasetError(DomainError):
    """A dataset could not be loaded; the message names the file and the fix."""
