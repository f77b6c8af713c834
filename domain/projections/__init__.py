"""Read models folded from the log; each remembers the position it reached."""

from domain.projections.labels import NO_LABEL, LabelSet
from domain.projections.project import ProjectProjections
from domain.projections.project_info import LatentMap, LatentMapRef, ProjectInfo
from domain.projections.undo import UNDO_DEPTH, LabelChange, UndoHistory

__all__ = [
    "NO_LABEL",
    "UNDO_DEPTH",
    "LabelChange",
    "LabelSet",
    "LatentMap",
    "LatentMapRef",
    "ProjectInfo",
    "ProjectProjections",
    "UndoHistory",
]
