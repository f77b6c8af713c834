"""Errors of the application layer; messages go to people as they are."""


class ProjectError(Exception):
    """A project could not be opened, created or changed; the message says why and what to do."""
