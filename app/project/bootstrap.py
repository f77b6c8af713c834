"""The composition root: the one place that reads the environment and builds
the application's objects. Everything else receives what it needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.project.errors import ProjectError
from app.project.service import ProjectService
from app.project.settings import (
    ANNOTATOR_SETTING,
    Settings,
    default_annotator,
    default_cache_dir,
    default_data_dir,
)
from domain.dataset import default_resources_dir
from domain.decide import check_name
from domain.errors import DomainError
from domain.events import EventRegistry, core_registry
from domain.model_events import MODEL_EVENTS
from domain.projections.models import ModelRegistry
from domain.projections.quality import QualityState
from domain.quality_events import QUALITY_EVENTS
from domain.training_events import TRAINING_EVENTS


@dataclass(frozen=True)
class Application:
    """What the CLI and the window are given."""

    settings: Settings
    registry: EventRegistry
    projects: ProjectService


def bootstrap(
    *,
    annotator: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    resources_dir: Path | None = None,
    registry: EventRegistry | None = None,
    environ: Mapping[str, str] | None = None,
) -> Application:
    """Build the application; arguments override the settings from the environment."""
    if annotator is not None and not annotator.strip():
        raise ProjectError("the annotator name is empty: give a name with --annotator")
    settings = Settings(
        annotator=(annotator or "").strip() or default_annotator(environ),
        data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(environ),
        resources_dir=resources_dir or default_resources_dir(),
        cache_dir=default_cache_dir(environ),
    )
    try:  # the name goes into every event's metadata and onto one line of `log`
        check_name("annotator name", settings.annotator)
    except DomainError as exc:
        source = "--annotator" if annotator is not None else f"${ANNOTATOR_SETTING} or the OS user name"
        raise ProjectError(f"{exc} (it came from {source})") from None
    registry = registry or (
        core_registry().extended(TRAINING_EVENTS).extended(QUALITY_EVENTS).extended(MODEL_EVENTS)
    )
    projects = ProjectService(
        annotator=settings.annotator,
        registry=registry,
        resources_dir=settings.resources_dir,
        # ModelRegistry: the training runs with the chosen and archived ones (issue 17).
        extra_projections=(ModelRegistry, QualityState),
    )
    return Application(settings, registry, projects)
