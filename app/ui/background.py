"""Moved to ``app.background`` (training uses it too); kept so UI imports stay short."""

from app.background import BackgroundJob, JobFunction

__all__ = ["BackgroundJob", "JobFunction"]
