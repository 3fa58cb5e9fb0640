"""The faust application: worker lifecycle, the projects agent and the batch agents' services."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import faust
import orjson
from mode import Service
from redis.asyncio import Redis

from assignment import Assignment
from streams import topics
from streams.agents.annotations import AnnotationsAgent, make_producer
from streams.agents.projects import apply_until_done
from streams.agents.workflow import NotOwner, WorkflowAgent
from streams.garbage import FullCollections
from streams.label_studio_receiver import LabelStudioReceiver
from streams.label_studio_webhook import WEBHOOK_PATH
from streams.roles import WorkerAgents
from streams.settings import Settings
from streams.state.keys import Keys
from streams.state.store import StateStore
from streams.state.workflow_store import WorkflowStore

log = logging.getLogger(__name__)
T = TypeVar("T")

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class WorkerApp(faust.App):
    """faust's app; a stop does not wait for the message the projects agent holds."""

    async def on_stop(self) -> None:
        # faust waits, at a stop as at a rebalance, until the message an agent holds is
        # acked, and the projects agent acks a configuration only once it is applied: while
        # Redis is unreachable a stop would wait for Redis. Not waiting loses nothing at a
        # stop (the message is not committed; the next worker reads it again). A rebalance
        # still waits, so a partition's next owner applies no newer configuration before
        # this worker's older one lands.
        self.conf.stream_wait_empty = False
        await super().on_stop()


def create_app(settings: Settings, agents: WorkerAgents = WorkerAgents.ALL) -> faust.App:
    """Build the app for one deployment; ``quorum worker`` runs it. ``agents`` says which
    batch agents it runs; without the workflow agent it serves no HTTP API."""
    app_id = topics.worker_app_id(settings)
    (settings.data_dir / "worker").mkdir(parents=True, exist_ok=True)  # faust makes one level
    # faust formats the datadir with str.format, so braces in a path must be doubled.
    datadir = str(settings.data_dir / "worker" / app_id).replace("{", "{{").replace("}", "}}")
    app = WorkerApp(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        # faust keeps a small folder per app id; under .data/ (git-ignored) rather than
        # the working directory, where every test deployment would leave one.
        datadir=datadir,
        # The label stream (`POST /projects/{project}/annotators/{annotator}/next-task`) and
        # the other workflow APIs, answered by the workflow agent.
        web_enabled=agents.runs_workflow,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=16 * 1024 * 1024,
    )
    projects_topic = app.topic(
        settings.topic(topics.PROJECTS), key_serializer="raw", value_serializer="raw"
    )
    dead_letter_topic = app.topic(
        settings.topic(topics.DEAD_LETTER), key_serializer="raw", value_serializer="raw"
    )

    async def send_dead_letter(refused: dict[str, Any]) -> None:
        # Waits for Kafka's acknowledgement: the refused message is acked only after.
        delivered = await dead_letter_topic.send(
            key=refused["event_id"].encode(), value=orjson.dumps(refused)
        )
        await delivered

    @app.agent(projects_topic)
    async def projects(stream: Any) -> None:
        redis = Redis.from_url(settings.redis_url)
        store = StateStore(redis, Keys(settings.key_prefix))
        # Acked by hand once applied: faust's own ack would also come when the worker
        # stops mid-retry (it closes the stream's iterator), and commit a message never
        # applied.
        manual = stream.noack()
        try:
            async for event in manual.events():
                message = event.message
                await apply_until_done(
                    store, settings, send_dead_letter, key=message.key, value=message.value,
                    topic=message.topic, partition=message.partition, offset=message.offset,
                )
                await manual.ack(event)
        finally:
            await redis.aclose()

    workflow_agents: list[WorkflowAgent] = []  # the web routes' view of the running agent
    collections = FullCollections()  # the process's collection policy, for both agents

    class ClientsService(Service):
        """A Redis client and an output producer of its own, open while the worker runs."""

        async def on_start(self) -> None:
            self._redis = Redis.from_url(settings.redis_url)
            self._producer = make_producer(settings)
            await self._producer.start()

        async def on_stop(self) -> None:
            await self._producer.stop()
            await self._redis.aclose()

    class AgentService(ClientsService):
        """Runs one batch agent for as long as the worker runs; a crashed agent stops the
        worker."""

        label = "agent"

        def build(self, redis: Redis, keys: Keys, producer: Any) -> Any:
            raise NotImplementedError

        async def on_start(self) -> None:
            await super().on_start()
            self.agent = self.build(self._redis, Keys(settings.key_prefix), self._producer)
            self._halt = asyncio.Event()
            self._runner = asyncio.ensure_future(self.agent.run(self._halt))
            self._runner.add_done_callback(_stop_worker_if_crashed)

        async def on_stop(self) -> None:
            self._halt.set()
            try:
                await asyncio.wait_for(self._runner, timeout=30)
            except Exception as exc:  # the worker stops anyway; say why it was not clean
                log.warning("%s did not stop cleanly: %r", self.label, exc)
            await super().on_stop()

    class AnnotationsService(AgentService):
        """Runs the annotations agent (the hot path)."""

        label = "annotations agent"

        def build(self, redis: Redis, keys: Keys, producer: Any) -> AnnotationsAgent:
            loop = asyncio.get_running_loop()
            log.info("annotations agent on %s.%s", type(loop).__module__, type(loop).__name__)
            return AnnotationsAgent(settings, StateStore(redis, keys), producer, collections)

    class WorkflowService(AgentService):
        """Runs the workflow agent (distribution, label stream, quality)."""

        label = "workflow agent"

        def build(self, redis: Redis, keys: Keys, producer: Any) -> WorkflowAgent:
            agent = WorkflowAgent(settings, WorkflowStore(redis, keys), StateStore(redis, keys),
                                  producer, collections)
            workflow_agents.append(agent)
            return agent

    receivers: list[LabelStudioReceiver] = []  # the webhook route's view of the receiver

    class WebhookService(ClientsService):
        """The Label Studio webhook receiver of a worker that serves HTTP."""

        async def on_start(self) -> None:
            await super().on_start()
            receivers.append(LabelStudioReceiver(settings, self._redis, self._producer))
            if settings.webhook_token is None and settings.web_host not in _LOOPBACK:
                log.warning("%s on %s accepts posts from anyone: set QUORUM_WEBHOOK_TOKEN "
                            "and give Label Studio's webhook the header 'Authorization: "
                            "Bearer <token>'", WEBHOOK_PATH, settings.web_host)

        async def on_stop(self) -> None:
            receivers.clear()
            await super().on_stop()

    if agents.runs_annotations:
        app.service(AnnotationsService)
    if agents.runs_workflow:
        app.service(WorkflowService)
        app.service(WebhookService)

    @app.task
    async def announce() -> None:
        # Logged once the worker's logging is set up: which process runs what.
        log.info("this worker runs the projects agent%s%s (--agents %s)",
                 ", the annotations agent" if agents.runs_annotations else "",
                 ", the workflow agent and its HTTP API" if agents.runs_workflow else "",
                 agents.value)

    @app.page(WEBHOOK_PATH)
    class LabelStudioWebhook(faust.web.View):
        """Label Studio's webhooks in (``?project=ID`` names the Quorum project; default:
        Label Studio's project id): their annotations go to the annotations topic."""

        async def post(self, request: Any) -> Any:
            if not receivers:
                return self.json({"error": "the webhook receiver is starting; retry shortly"},
                                 status=503)
            status, answer = await receivers[0].receive(
                await request.read(), project=request.query.get("project"),
                authorization=request.headers.get("Authorization"))
            return self.json(answer, status=status)

    @app.page("/projects/{project}/annotators/{annotator}/next-task")
    class NextTask(faust.web.View):
        """The label stream: reserve and return the task an annotator should label next."""

        async def post(self, request: Any, project: str, annotator: str) -> Any:
            return await label_stream_answer(self, workflow_agents, project, annotator)

    @app.page("/projects/{project}/reviewers/{reviewer}/next-review")
    class NextReview(faust.web.View):
        """The review stream: the task a reviewer should look at next, lowest agreement
        first (nothing is reserved: two reviewers may be shown the same task)."""

        async def get(self, request: Any, project: str, reviewer: str) -> Any:
            return await workflow_answer(
                self, workflow_agents, project,
                lambda agent: agent.next_review(project, reviewer),
                lambda task: self.json({"project_id": project, "reviewer": reviewer,
                                        "task_id": task}))

    @app.page("/projects/{project}/annotators")
    class Annotators(faust.web.View):
        """Every annotator's performance now, and the annotator agreement matrix."""

        async def get(self, request: Any, project: str) -> Any:
            return await report_answer(self, workflow_agents, project,
                                       WorkflowAgent.annotators_report)

    @app.page("/projects/{project}/models")
    class Models(faust.web.View):
        """Every model version's figures and timeline, and the current regressions."""

        async def get(self, request: Any, project: str) -> Any:
            return await report_answer(self, workflow_agents, project,
                                       WorkflowAgent.models_report)

    return app


async def workflow_answer(view: Any, agents: list[WorkflowAgent], project: str,
                          ask: Callable[[WorkflowAgent], Awaitable[T]],
                          answer: Callable[[T], Any]) -> Any:
    """The HTTP answer of a workflow API: ``answer`` of what ``ask`` got from the running
    workflow agent, 409 when another worker owns the project, 503 while this one is
    starting."""
    if not agents:
        return view.json({"error": "the workflow agent is starting; retry shortly"},
                         status=503)
    try:
        result = await ask(agents[0])
    except NotOwner:
        return view.json({"error": f"project {project!r} is served by another worker: its "
                                   "workflow partition is not owned here; ask the worker "
                                   "that owns it (or retry after a rebalance)"}, status=409)
    return answer(result)


async def report_answer(view: Any, agents: list[WorkflowAgent], project: str,
                        report: Callable[[WorkflowAgent, str], Awaitable[Any]]) -> Any:
    """A read API (``report``: the agent's read method): 200 with the report, 404 for a
    project without workflow state here, else as :func:`workflow_answer`."""

    def answer(body: Any) -> Any:
        if body is None:
            return view.json({"error": f"project {project!r} has no workflow state: none of "
                                       "its tasks, annotators or annotation facts reached the "
                                       "workflow topic (annotator and model figures need "
                                       f"`quorum project set {project} --track-quality`, or "
                                       "--distribute where Quorum hands out the tasks); "
                                       "check the project id"}, status=404)
        return view.json(body)

    return await workflow_answer(view, agents, project,
                                 lambda agent: report(agent, project), answer)


async def label_stream_answer(view: Any, agents: list[WorkflowAgent], project: str,
                              annotator: str) -> Any:
    """The label stream: 200 with the task (or ``task_id: null`` and the ``reason``),
    else as :func:`workflow_answer`."""

    def answer(assignment: Assignment | str) -> Any:
        if isinstance(assignment, str):
            return view.json({"project_id": project, "annotator": annotator, "task_id": None,
                              "reason": assignment})
        return view.json({
            "project_id": project,
            "annotator": annotator,
            "task_id": assignment.task,
            "queue": assignment.queue.value,
            "expires_at": assignment.expires_at,
        })

    return await workflow_answer(view, agents, project,
                                 lambda agent: agent.next_task(project, annotator), answer)


def _stop_worker_if_crashed(runner: asyncio.Future[None]) -> None:
    """A worker without its hot path must not look alive: stop it, loudly, for a restart."""
    if runner.cancelled() or runner.exception() is None:
        return
    log.critical("an agent crashed; stopping the worker", exc_info=runner.exception())
    os.kill(os.getpid(), signal.SIGTERM)
