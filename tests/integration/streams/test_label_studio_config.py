"""A project configured from Label Studio follows Label Studio's settings on the real
Kafka and Redis: one configured by an older version (before ``track_quality``) gets it
with the next payload, and one set by hand since is never touched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest

from streams.label_studio_receiver import follow_label_studio
from streams.label_studio_webhook import Webhook, project_config_body
from streams.models.project import ProjectConfig, project_config_from_dict
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment

pytestmark = pytest.mark.integration

PROJECT = "ls-follow"
LABEL_CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" '
                'toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>')


async def _stored(deployment: Deployment) -> tuple[bytes | str | None, ProjectConfig | None]:
    raw = await deployment.redis.hget(deployment.keys.project_configs(), PROJECT)
    return raw, None if raw is None else project_config_from_dict(orjson.loads(raw))


async def test_an_older_label_studio_configuration_gets_quality_tracking(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess],
) -> None:
    settings = deployment.settings
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    body = project_config_body(Webhook("PROJECT_UPDATED", PROJECT, {
        "id": 7, "label_config": LABEL_CONFIG, "maximum_annotations": 3}))
    assert body is not None and body["track_quality"] is True
    older: dict[str, Any] = {k: v for k, v in body.items() if k != "track_quality"}

    # What an older version did on the project's first payload.
    assert await follow_label_studio(settings, deployment.redis, PROJECT, older, None)
    raw, config = await _stored(deployment)
    assert config is not None and not config.track_quality

    # The next payload, to this version: the configuration is still Label Studio's.
    assert await follow_label_studio(settings, deployment.redis, PROJECT, body, raw)
    raw, config = await _stored(deployment)
    assert config is not None and config.track_quality and config.annotations_per_task == 3
    # Nothing changed in Label Studio since: nothing sent.
    assert not await follow_label_studio(settings, deployment.redis, PROJECT, body, raw)

    # Set by hand (`quorum project set`): never touched again.
    assert config is not None
    await deployment.configure(replace(config, track_quality=False))
    raw, _ = await _stored(deployment)
    changed = {**body, "annotations_per_task": 5}
    assert not await follow_label_studio(settings, deployment.redis, PROJECT, changed, raw)
    _, config = await _stored(deployment)
    assert config is not None and not config.track_quality and config.annotations_per_task == 3
