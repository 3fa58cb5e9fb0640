"""``quorum``: run the infrastructure and the worker, configure projects, send and follow events."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from redis.exceptions import RedisError
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streams import topics
from streams.errors import QuorumError
from streams.roles import WorkerAgents
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.label_studio_api import LabelStudio
    from streams.label_studio_sync import ExportSnapshot
    from streams.models.project import ProjectConfig

app = typer.Typer(
    help="Quorum: real-time inter-annotator agreement, consensus and review routing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
infra_app = typer.Typer(
    help="Start, stop and inspect the local Kafka and Redis.", no_args_is_help=True
)
project_app = typer.Typer(help="Project quality configuration.", no_args_is_help=True)
tasks_app = typer.Typer(
    help="Import and delete tasks of distributing projects; look at tasks' agreement.",
    no_args_is_help=True,
)
annotators_app = typer.Typer(
    help="Annotators: join, leave, pause, resume (projects Quorum distributes); their "
         "performance (projects it distributes or tracks the quality of).",
    no_args_is_help=True,
)
models_app = typer.Typer(
    help="Model versions of projects Quorum distributes or tracks the quality of: their "
         "agreement over time.",
    no_args_is_help=True,
)
app.add_typer(infra_app, name="infra")
app.add_typer(project_app, name="project")
app.add_typer(tasks_app, name="tasks")
app.add_typer(annotators_app, name="annotators")
app.add_typer(models_app, name="models")
label_studio_app = typer.Typer(
    help="Connect a Label Studio project: live scores from its webhooks.", no_args_is_help=True
)
app.add_typer(label_studio_app, name="label-studio")

console = Console(stderr=True)
out = Console()


def _settings() -> Settings:
    return Settings()


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=1)


@infra_app.command("up")
def infra_up() -> None:
    """Start Kafka (KRaft) and Redis (AOF on) on 127.0.0.1, wait for both, create topics."""
    from streams import infra
    from streams.kafka import ensure_topics

    settings = _settings()
    try:
        infra.up(settings)
        created = asyncio.run(ensure_topics(settings))
    except QuorumError as exc:
        raise _fail(exc) from None
    console.print(
        f"Kafka at {settings.kafka_bootstrap}, Redis at {settings.redis_url}: up"
        + (f"; created {len(created)} topics" if created else "")
    )


@infra_app.command("down")
def infra_down() -> None:
    """Stop Kafka and Redis (data stays under the data directory)."""
    from streams import infra

    infra.down(_settings())
    console.print("Kafka and Redis stopped")


@infra_app.command("status")
def infra_status() -> None:
    """Say whether Kafka and Redis answer."""
    from streams import infra

    status = infra.status(_settings())
    for name, answers in status.items():
        out.print(f"{name}: {'up' if answers else 'down'}")
    if not all(status.values()):
        raise typer.Exit(code=1)


@app.command()
def worker(
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    agents: Annotated[WorkerAgents, typer.Option(
        help="which batch agents to run: all; annotations (the hot path, no HTTP API); or "
             "workflow (distribution, label stream, reviews, reports and their HTTP API). "
             "Run one worker of each to keep the label stream's answers off the hot path.",
    )] = WorkerAgents.ALL,
) -> None:
    """Run a worker until interrupted: the projects agent and the batch agents (the
    annotations hot path and the workflow agent with its HTTP API)."""
    import faust

    from streams import native
    from streams.app import create_app
    from streams.kafka import ensure_topics

    try:
        native.check()  # a stale compiled build would run old code
    except native.NativeBuildError as exc:
        raise _fail(exc) from None
    settings = _settings()
    # faust subscribes only to topics that exist when the worker starts: create them first.
    try:
        asyncio.run(ensure_topics(settings))
    except Exception as exc:  # any client error here means Kafka is not reachable
        raise _fail(QuorumError(
            f"cannot reach Kafka at {settings.kafka_bootstrap} ({type(exc).__name__}: {exc}); "
            "start it with `quorum infra up` (or `make up`)"
        )) from None
    _use_uvloop()
    faust_app = create_app(settings, agents)
    faust.Worker(faust_app, loglevel=log_level.upper()).execute_from_commandline()


def _use_uvloop() -> None:
    """Run the worker on uvloop where it is installed: 10-30% more events per second in
    bench.profile_agent on this machine, the same code otherwise."""
    try:
        import uvloop
    except ImportError:  # e.g. on Windows, where it is not installed
        return
    uvloop.install()


@project_app.command("set")
def project_set(
    project_id: str,
    overlap: Annotated[int | None, typer.Option(help="annotations per task (default 1)")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="agreement threshold in [0, 1] (default 0)")
    ] = None,
    max_additional: Annotated[
        int | None, typer.Option(help="extra annotators when agreement is low (default 0)")
    ] = None,
    label_config: Annotated[
        Path | None,
        typer.Option(help="Label Studio labeling config (XML): picks each tag's metric"),
    ] = None,
    label_studio_project: Annotated[
        Path | None,
        typer.Option(
            help="Label Studio project JSON (GET /api/projects/ID): its label_config and "
            "control_weights"
        ),
    ] = None,
    methodology: Annotated[
        str | None, typer.Option(help="pairwise (default) or consensus")
    ] = None,
    distribute: Annotated[
        bool | None,
        typer.Option(help="Quorum hands out the project's tasks (label stream; default no)"),
    ] = None,
    track_quality: Annotated[
        bool | None,
        typer.Option(help="annotator quality, model evaluation and the review stream, live, "
                     "for a project whose tasks Quorum does not hand out (default no; a "
                     "distributing project always has them)"),
    ] = None,
    overlap_cohort: Annotated[
        float | None,
        typer.Option(
            metavar="PERCENT", help="share of tasks that get the full overlap (default 100)"
        ),
    ] = None,
    show_overlap_first: Annotated[
        bool | None, typer.Option(help="offer tasks others started before fresh ones "
                                       "(default no)")
    ] = None,
    max_tasks_per_annotator: Annotated[
        str | None,
        typer.Option(metavar="N", help="at most N tasks per annotator; none: no limit "
                     "(the default)"),
    ] = None,
    max_share_per_annotator: Annotated[
        str | None,
        typer.Option(metavar="SHARE", help="at most this share (0, 1] of tasks per "
                     "annotator; none: no limit (the default)"),
    ] = None,
    reservation_ttl: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="an unsubmitted task returns to the pool after this (default 86400: a day)",
        ),
    ] = None,
    skip_mode: Annotated[
        str | None,
        typer.Option(
            metavar="MODE",
            help="requeue_for_others (default), requeue_for_me or count_as_done",
        ),
    ] = None,
    assignment_mode: Annotated[
        str | None,
        typer.Option(
            metavar="MODE",
            help="pull (default: annotators ask the label stream) or push (Quorum reserves "
            "tasks ahead for each annotator, least-loaded first)",
        ),
    ] = None,
    push_depth: Annotated[
        int | None,
        typer.Option(metavar="N", help="in push mode, tasks each annotator holds ahead "
                     "(default 1)"),
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="start from the defaults: every setting not "
                           "given here goes back to its default")
    ] = False,
    wait: Annotated[bool, typer.Option(help="wait until a worker has applied it")] = True,
) -> None:
    """Change a project's configuration (on the compacted projects topic).

    Only the settings given change: the others keep their current values, those no
    option sets too (the scoring object, evaluation, reviews...). A project without a
    configuration starts from the defaults, and so does every project with --reset.
    """
    from streams.models.invalid import InvalidEvent
    from streams.project_update import updated_config

    given = {name: value for name, value in (
        ("annotations_per_task", overlap), ("agreement_threshold", threshold),
        ("max_additional_annotators", max_additional), ("methodology", methodology),
        ("distribute", distribute), ("track_quality", track_quality),
        ("overlap_cohort_percentage", overlap_cohort),
        ("show_overlap_first", show_overlap_first), ("reservation_ttl_s", reservation_ttl),
        ("skip_mode", skip_mode), ("assignment_mode", assignment_mode),
        ("push_depth", push_depth)) if value is not None}
    given |= _annotator_limits(max_tasks_per_annotator, max_share_per_annotator)
    try:
        given |= _label_studio_settings(label_config, label_studio_project)
        # Over the defaults first, so that a bad option is refused before Kafka is asked.
        fresh = updated_config(None, project_id, given)
    except OSError as exc:
        raise _fail(QuorumError(
            f"cannot read {exc.filename}: {exc.strerror or exc}; pass the path of a Label "
            "Studio labeling config (XML) to --label-config, or of a project as its API "
            "returns it (JSON) to --label-studio-project")) from None
    except (orjson.JSONDecodeError, InvalidEvent) as exc:
        raise _fail(exc) from None
    settings = _settings()
    stored = _stored_project_config(settings, project_id)
    try:
        config = fresh if reset or stored is None else updated_config(stored, project_id, given)
    except InvalidEvent as exc:
        raise _fail(exc) from None
    _publish_project_update(settings, stored, config, wait=wait)


def _annotator_limits(max_tasks: str | None, max_share: str | None) -> dict[str, Any]:
    """The per-annotator limits given, by their field names; ``none`` is null: no limit
    (an option left out keeps the limit in force, so removing one needs a value)."""
    limits: dict[str, Any] = {}
    for name, text, number in (("max_tasks_per_annotator", max_tasks, int),
                               ("max_share_per_annotator", max_share, float)):
        if text is None:
            continue
        if text.strip().lower() == "none":
            limits[name] = None
            continue
        try:
            limits[name] = number(text)
        except ValueError:
            option = "--" + name.replace("_", "-")
            raise typer.BadParameter(
                f"{text!r} is not a {'whole number' if number is int else 'number'}; give "
                "one, or none for no limit", param_hint=f"'{option}'") from None
    return limits


def _label_studio_settings(label_config: Path | None,
                           label_studio_project: Path | None) -> dict[str, Any]:
    """``label_config`` and ``control_weights`` from the files given (the labeling config
    file wins over the project's own); raises ``OSError``, ``orjson.JSONDecodeError`` or
    ``InvalidEvent``."""
    from streams.models.invalid import InvalidEvent

    settings: dict[str, Any] = {}
    if label_studio_project is not None:
        project = orjson.loads(label_studio_project.read_bytes())
        if not isinstance(project, dict):
            raise InvalidEvent(f"{label_studio_project} does not hold a project object")
        settings["label_config"] = project.get("label_config")
        settings["control_weights"] = project.get("control_weights")
    if label_config is not None:
        settings["label_config"] = label_config.read_text(encoding="utf-8")
    return settings


def _stored_project_config(settings: Settings, project_id: str) -> ProjectConfig | None:
    """The project's configuration in force (None for none), or exit saying why not."""
    from aiokafka.errors import KafkaError

    from streams.operations import latest_project_config

    try:
        return asyncio.run(latest_project_config(settings, project_id))
    except QuorumError as exc:
        raise _fail(exc) from None
    except (KafkaError, OSError) as exc:
        raise _fail(QuorumError(
            f"cannot read the configuration of project {project_id} from Kafka at "
            f"{settings.kafka_bootstrap} ({type(exc).__name__}: {exc}); start it with "
            "`quorum infra up`")) from None


def _publish_project_update(settings: Settings, stored: ProjectConfig | None,
                            config: ProjectConfig, *, wait: bool) -> None:
    """Send ``config`` unless it is ``stored`` already; say what it changes."""
    from streams.models.project import ProjectConfig
    from streams.operations import publish_project_config
    from streams.project_update import setting_changes

    changes = setting_changes(stored or ProjectConfig(config.project_id), config)
    if stored is not None and not changes:
        console.print(f"project {config.project_id}: nothing to change, nothing sent "
                      f"({_config_text(config)})")
        return
    try:
        applied = asyncio.run(publish_project_config(settings, config, wait_s=30 if wait else 0))
    except QuorumError as exc:
        raise _fail(exc) from None
    console.print(
        f"project {config.project_id}: {_config_text(config)}"
        + ("; applied by a worker" if applied else "; sent (no worker has applied it yet)")
    )
    if stored is None:
        console.print("it had no configuration (the defaults applied); "
                      + ("changed from the defaults:" if changes else "now they are set"))
    else:
        console.print("changed:")
    for change in changes:
        console.print(f"  {change}", markup=False, highlight=False, soft_wrap=True)


def _config_text(config: ProjectConfig) -> str:
    return (
        f"overlap {config.annotations_per_task}, threshold {config.agreement_threshold}, "
        f"max additional {config.max_additional_annotators}, {config.methodology.value}, "
        f"metrics: {_metrics_text(config)}, {_distribution_text(config)}"
    )


def _distribution_text(config: Any) -> str:
    if not config.distribute:
        return "tasks not distributed by Quorum" + (
            ", quality tracked" if config.track_quality else "")
    limits = [
        f"at most {config.max_tasks_per_annotator} tasks"
        if config.max_tasks_per_annotator is not None else "",
        f"at most {config.max_share_per_annotator:g} of the tasks"
        if config.max_share_per_annotator is not None else "",
    ]
    return (
        f"distributed: overlap cohort {config.overlap_cohort_percentage:g}%"
        + (", overlap first" if config.show_overlap_first else "")
        + "".join(f", {limit} per annotator" for limit in limits if limit)
        + f", reservations {config.reservation_ttl_s:g} s, skips {config.skip_mode}"
        + (f", pushed {config.push_depth} ahead" if config.assignment_mode == "push" else "")
    )


def _metrics_text(config: Any) -> str:
    tags = config.scoring.tags
    if config.scoring.custom_metric:
        return f"custom {config.scoring.custom_metric}"
    if not tags:
        return "default per result type"
    return ", ".join(
        f"{name}={tag.metric or 'default'}" + (f" x{tag.weight:g}" if tag.weight != 1 else "")
        for name, tag in sorted(tags.items())
    )


@project_app.command("remove")
def project_remove(
    project_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="really remove the configuration")] = False,
) -> None:
    """Remove a project's configuration (its tombstone on the compacted projects topic):
    the defaults apply to its next events. Task states and outputs stay."""
    from aiokafka.errors import KafkaError

    from streams.operations import remove_project_config

    settings = _settings()
    stored = _stored_project_config(settings, project_id)
    if stored is None:
        raise _fail(QuorumError(
            f"project {project_id} has no configuration to remove (check the id and "
            "QUORUM_TOPIC_PREFIX; `quorum project list` shows the projects)"))
    if not yes:
        raise _fail(QuorumError(
            f"this removes project {project_id}'s configuration ({_config_text(stored)}): "
            "its next events are scored with the defaults; run again with --yes"))
    try:
        asyncio.run(remove_project_config(settings, project_id))
    except (KafkaError, OSError) as exc:
        raise _fail(QuorumError(
            f"cannot reach Kafka at {settings.kafka_bootstrap} ({type(exc).__name__}: {exc}); "
            "start it with `quorum infra up`")) from None
    console.print(f"project {project_id}: configuration removed; the defaults apply to its "
                  "next events")


@project_app.command("list")
def project_list() -> None:
    """Projects with their configuration; those scored with defaults are marked."""
    from streams.operations import list_projects

    rows = asyncio.run(list_projects(_settings()))
    table = Table("project", "overlap", "threshold", "max extra", "method", "metrics",
                  "config", box=box.SIMPLE_HEAD)
    for column in table.columns:
        # Ids and metric names are long single words: folded, not cut to "my-proje…".
        column.overflow = "fold"
        if column.header == "threshold":
            column.min_width = len(str(column.header))
    for row in rows:
        table.add_row(
            row.project_id, str(row.config.annotations_per_task),
            str(row.config.agreement_threshold), str(row.config.max_additional_annotators),
            row.config.methodology.value, _metrics_text(row.config),
            "yes" if row.configured else "[yellow]no (defaults)[/yellow]",
        )
    out.print(table)


@app.command()
def send(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL of events")],
    topic: Annotated[str, typer.Option(
        help="input topic: annotations, workflow (task and annotator events) or projects "
             "(configurations)")] = topics.ANNOTATIONS,
) -> None:
    """Send events from a JSONL file, one event per line, keyed as the topic wants: by
    project and task on annotations, by project on workflow and projects."""
    from streams.operations import describe_lines, key_lines, send_lines

    if topic not in topics.INPUTS:
        raise _fail(QuorumError(f"{topic!r} is not an input topic: send to one of "
                                f"{', '.join(topics.INPUTS)}"))
    settings = _settings()
    keyed = key_lines(topic, path.read_bytes().splitlines())
    if topic == topics.PROJECTS and keyed.refused:
        raise _fail(QuorumError(
            f"{path}: nothing sent: every line must be a project configuration, a JSON "
            f"object with its project_id ({describe_lines(keyed.refused)}); to remove a "
            "project's configuration, run `quorum project remove PROJECT`"))
    with _progress() as progress:
        bar = progress.add_task(f"sending to {settings.topic(topic)}",
                                total=len(keyed.messages))
        sent = asyncio.run(
            send_lines(settings, topic, keyed, on_sent=lambda n: progress.advance(bar, n))
        )
    console.print(f"sent {sent} events to {settings.topic(topic)}")
    if keyed.refused:
        console.print(
            f"[yellow]{len(keyed.refused)} of them are not events the worker can take"
            f"[/yellow] ({describe_lines(keyed.refused)}): it puts them in the dead-letter "
            "topic with the reason (`quorum follow dead-letter`)", highlight=False)


@app.command("send-export")
def send_export(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Label Studio JSON export")
    ],
    project: Annotated[str, typer.Option(help="Quorum project id for these tasks")],
) -> None:
    """Stream a Label Studio JSON export: one annotation event per exported annotation
    and prediction (a prediction has its model version as its author).

    Set the project's configuration first (``quorum project set --label-config``), so the
    tasks are scored with its metrics. Sending the same export again changes nothing.
    """
    from aiokafka.errors import KafkaError

    from streams.export_events import annotation_events

    settings = _settings()
    try:
        export = orjson.loads(path.read_bytes())
        events = list(annotation_events(export, project))
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise _fail(ValueError(f"{path}: {exc}")) from None
    try:
        sent = _stream_annotations(settings, project, events,
                                   f"sending to {settings.topic(topics.ANNOTATIONS)}")
    except (KafkaError, RedisError, OSError) as exc:
        raise _fail(_unreachable(settings, exc)) from None
    console.print(f"sent {sent} annotation events of project {project} from {path}")


def _stream_annotations(settings: Settings, project: str, events: list[dict[str, Any]],
                        what: str, *, send: list[dict[str, Any]] | None = None) -> int:
    """Send Label Studio annotations' events (or only ``send`` of them) with a progress
    bar; how many were sent.

    Each annotation's task is kept first, for the webhook receiver: Label Studio's delete
    webhook names only the annotation.
    """
    from streams.operations import remember_annotation_tasks

    asyncio.run(remember_annotation_tasks(
        settings, project, {e["annotation_id"]: e["task_id"] for e in events}))
    return _send_annotation_events(settings, events if send is None else send, what)


def _send_annotation_events(settings: Settings, events: list[dict[str, Any]],
                            what: str) -> int:
    """Send annotation events with a progress bar (none for no events); how many."""
    from streams.operations import key_lines, send_lines

    if not events:
        return 0
    keyed = key_lines(topics.ANNOTATIONS, [orjson.dumps(e) for e in events])
    with _progress() as progress:
        bar = progress.add_task(what, total=len(events))
        return asyncio.run(send_lines(settings, topics.ANNOTATIONS, keyed,
                                      on_sent=lambda n: progress.advance(bar, n)))


def _unreachable(settings: Settings, exc: BaseException) -> QuorumError:
    return QuorumError(
        f"Kafka at {settings.kafka_bootstrap} or Redis at {settings.redis_url} cannot be "
        f"reached ({type(exc).__name__}: {exc}); start them with `quorum infra up`")


@app.command()
def follow(
    names: Annotated[
        list[str] | None, typer.Argument(help="output topics (short names); default: all")
    ] = None,
    from_beginning: Annotated[bool, typer.Option(help="start at the oldest event")] = False,
) -> None:
    """Print output events as they arrive, one JSON per line.

    Topics by their short names (task-completed) or their full ones
    (quorum.task-completed, with QUORUM_TOPIC_PREFIX's prefix).
    """
    from streams.kafka import read_topics

    settings = _settings()
    wanted = [_output_topic(settings, name) for name in names or topics.OUTPUTS]

    async def _follow() -> None:
        async for _topic, _key, value in read_topics(
            settings, wanted, from_beginning=from_beginning
        ):
            if value is not None:
                sys.stdout.write(value.decode("utf-8", "replace") + "\n")
                sys.stdout.flush()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_follow())


def _output_topic(settings: Settings, name: str) -> str:
    """The short name of output topic ``name``, given short or full; exit if it is none."""
    prefix = settings.topic("")
    short = name[len(prefix):] if name.startswith(prefix) else name
    if short not in topics.OUTPUTS:
        raise _fail(QuorumError(
            f"{name!r} is not an output topic; follow any of {', '.join(topics.OUTPUTS)} "
            f"(short names; the topics are {prefix}<name> with QUORUM_TOPIC_PREFIX "
            f"{settings.topic_prefix!r})"))
    return short


@app.command("lag")
def lag_command(
    max_lag: Annotated[
        int | None,
        typer.Option(min=0, help="exit with status 1 when the annotations or the workflow input "
                     "is more than this many messages behind (for a health check)"),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="print JSON instead")] = False,
) -> None:
    """How far the workers are behind: per input partition, the offset Kafka will give the
    next message, the last one applied (from Redis, written with the state), the
    messages not applied yet and the outbox (applied batches kept until a later write
    confirms their outputs were published: one or two normally, more while Kafka refuses
    outputs); then the dead letters."""
    from aiokafka.errors import KafkaError

    from streams.lag import ANNOTATIONS, WORKFLOW, over, total_lag
    from streams.operations import input_lag

    settings = _settings()
    try:
        rows, dead_letters = asyncio.run(input_lag(settings))
    except QuorumError as exc:
        raise _fail(exc) from None
    except (KafkaError, RedisError, OSError) as exc:
        raise _fail(_unreachable(settings, exc)) from None
    behind = {stream: total_lag(rows, stream) for stream in (ANNOTATIONS, WORKFLOW)}
    if json:
        out.print_json(data={
            "partitions": [{"stream": r.stream, "partition": r.partition, "start": r.start,
                            "end": r.end, "applied": r.applied, "lag": r.lag,
                            "outbox": r.outbox} for r in rows],
            "lag": behind, "dead_letters": dead_letters})
    else:
        table = Table("input", "partition", "end", "applied", "lag", "outbox")
        for r in rows:
            table.add_row(r.stream, str(r.partition), f"{r.end:,}",
                          "-" if r.applied is None else f"{r.applied:,}", f"{r.lag:,}",
                          str(r.outbox))
        out.print(table)
        console.print(f"behind: annotations {behind[ANNOTATIONS]:,}, workflow "
                      f"{behind[WORKFLOW]:,} messages; dead letters: {dead_letters:,} "
                      f"(`quorum follow dead-letter --from-beginning` shows them)")
    problems = [] if max_lag is None else over(rows, max_lag)
    if problems:
        raise _fail(QuorumError("; ".join(problems) + ": is a worker running and keeping up? "
                                "(`quorum worker`; each one takes a share of the partitions)"))


# A negative agreement ("-0.2") would otherwise be taken for an unknown option.
@tasks_app.command("below", context_settings={"ignore_unknown_options": True})
def tasks_below(
    agreement: Annotated[float, typer.Argument(
        min=0.0, max=1.0, help="list tasks whose agreement is below this, in [0, 1]")],
    project: Annotated[str | None, typer.Option(help="only this project")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many, lowest first")] = 50,
) -> None:
    """Tasks below an agreement, lowest first, across all partitions."""
    from streams.operations import tasks_below as query

    rows = asyncio.run(query(_settings(), agreement, project_id=project, limit=limit))
    table = Table("project", "task", "agreement")
    for row in rows:
        table.add_row(row.project_id, row.task_id, f"{row.agreement:.3f}")
    out.print(table)
    console.print(f"{len(rows)} tasks below {agreement}")
    if not rows and project is not None:
        console.print(f"(`quorum stats {project}` says whether the stream holds tasks of "
                      "that project)")


@tasks_app.command("import")
def tasks_import(
    project: Annotated[str, typer.Argument(help="project id")],
    task_ids: Annotated[list[str] | None, typer.Argument(help="task ids to import")] = None,
    task_range: Annotated[
        str | None,
        typer.Option(
            "--range", metavar="START:END",
            help="also import the integer ids START, START+1, ..., END-1 (END excluded)",
        ),
    ] = None,
) -> None:
    """Add tasks to a distributing project (quorum.task/v1 'imported' to the workflow topic)."""
    from streams.models.workflow import task_event

    ids = list(task_ids or [])
    if task_range is not None:
        ids.extend(str(task) for task in _task_range(task_range))
    if not ids:
        raise _fail(QuorumError("no task to import: give task ids, --range START:END, or both"))
    sent = _send_workflow(project, [task_event(project, task, "imported") for task in ids])
    console.print(f"sent {sent} task imports of project {project}")


@tasks_app.command("delete")
def tasks_delete(
    project: Annotated[str, typer.Argument(help="project id")],
    task_ids: Annotated[list[str], typer.Argument(help="task ids to delete")],
) -> None:
    """Remove tasks from a distributing project (quorum.task/v1 'deleted')."""
    from streams.models.workflow import task_event

    sent = _send_workflow(project, [task_event(project, task, "deleted") for task in task_ids])
    console.print(f"sent {sent} task deletions of project {project}")


def _task_range(text: str) -> range:
    """``START:END`` as Python's ``range(START, END)``; a QuorumError saying what is wrong."""
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        ids = range(int(start), int(end))
    except ValueError:
        raise _fail(QuorumError(
            f"--range must be START:END with whole numbers, e.g. 1:2001; got {text!r}"
        )) from None
    if not ids:
        raise _fail(QuorumError(f"--range {text} is empty: END must be above START"))
    return ids


_Project = Annotated[str, typer.Argument(help="project id")]
_Annotators = Annotated[list[str], typer.Argument(help="annotator ids")]


@annotators_app.command("join")
def annotators_join(project: _Project, annotators: _Annotators) -> None:
    """Annotators join a distributing project (quorum.annotator/v1 'joined')."""
    _send_annotator_events(project, annotators, "joined")


@annotators_app.command("leave")
def annotators_leave(project: _Project, annotators: _Annotators) -> None:
    """Annotators leave a project: their reservations end (quorum.annotator/v1 'left')."""
    _send_annotator_events(project, annotators, "left")


@annotators_app.command("pause")
def annotators_pause(project: _Project, annotators: _Annotators) -> None:
    """Pause annotators: they get no task until resumed (quorum.annotator/v1 'paused')."""
    _send_annotator_events(project, annotators, "paused")


@annotators_app.command("resume")
def annotators_resume(project: _Project, annotators: _Annotators) -> None:
    """Paused annotators may work again (quorum.annotator/v1 'resumed')."""
    _send_annotator_events(project, annotators, "resumed")


_WorkerUrl = Annotated[
    str | None,
    typer.Option(
        "--url", metavar="URL",
        help="a worker's web API, e.g. http://127.0.0.1:6066 (default: QUORUM_WEB_HOST and "
        "QUORUM_WEB_PORT, as `quorum worker` uses them)",
    ),
]
_Json = Annotated[bool, typer.Option("--json", help="print the API's JSON answer instead")]


@annotators_app.command("report")
def annotators_report(project: _Project, url: _WorkerUrl = None, json: _Json = False) -> None:
    """Annotator performance now, best first, and the annotator agreement matrix
    (GET /projects/PROJECT/annotators of a worker)."""
    from streams.workflow_report_tables import annotators_tables

    _print_report(_worker_report(url, project, "annotators"), annotators_tables, json)


@models_app.command("report")
def models_report(project: _Project, url: _WorkerUrl = None, json: _Json = False) -> None:
    """Model versions' agreement (annotators, consensus, ground truth) over time, and
    regressions (GET /projects/PROJECT/models of a worker)."""
    from streams.workflow_report_tables import models_tables

    _print_report(_worker_report(url, project, "models"), models_tables, json)


def _print_report(body: dict[str, Any], tables: Callable[[dict[str, Any]], list[Any]],
                  json: bool) -> None:
    if json:
        # Plain, never wrapped to the terminal's width: the output is for jq and scripts.
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    for table in tables(body):
        out.print(table)


def _worker_report(url: str | None, project: str, report: str) -> dict[str, Any]:
    """GET a read API of the worker that owns ``project``; a helpful exit if it cannot."""
    import urllib.error
    import urllib.parse
    import urllib.request

    base = (url or _default_web_url(_settings())).rstrip("/")
    where = f"{base}/projects/{urllib.parse.quote(project, safe='')}/{report}"
    try:
        with urllib.request.urlopen(where, timeout=30) as response:
            body: dict[str, Any] = orjson.loads(response.read())
            return body
    except urllib.error.HTTPError as exc:
        raise _fail(QuorumError(_refusal(exc.code, exc.read(), base))) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _fail(QuorumError(
            f"no worker answers at {base} ({reason}): start a worker: `quorum worker`"
            + ("" if url else "; or pass --url of a running worker's web API (a worker "
               "listens on QUORUM_WEB_HOST:QUORUM_WEB_PORT, 127.0.0.1:6066 by default)")
        )) from None
    except orjson.JSONDecodeError as exc:
        raise _fail(QuorumError(
            f"{base} answered something that is not JSON ({exc}); is it a Quorum worker?"
        )) from None


def _refusal(status: int, raw: bytes, base: str) -> str:
    """What to tell the user about a worker's error answer."""
    try:
        error, ours = str(orjson.loads(raw)["error"]), True
    except (orjson.JSONDecodeError, KeyError, TypeError):
        error, ours = raw.decode(errors="replace")[:200] or f"HTTP {status}", False
    if not ours:
        return (f"{base} answered HTTP {status} ({error}); is it a Quorum worker's web API "
                "of this version?")
    if status == 409:
        return (f"the worker at {base} says: {error}. With several workers, pass --url of "
                "the one that owns the project (each listens on its own QUORUM_WEB_PORT)")
    if status == 503:
        return f"the worker at {base} is starting ({error}); retry in a few seconds"
    return f"the worker at {base} says: {error}"


_LsProject = Annotated[int, typer.Argument(help="Label Studio project id")]
_LsUrl = Annotated[str, typer.Option(help="Label Studio's address, e.g. http://ls:8080")]
_LsToken = Annotated[
    str,
    typer.Option(envvar="LABEL_STUDIO_TOKEN",
                 help="a Label Studio user's token: a personal access token, or a legacy "
                 "token (env LABEL_STUDIO_TOKEN)"),
]
_QuorumProject = Annotated[
    str | None, typer.Option(help="Quorum project id (default: the Label Studio id)")
]


@label_studio_app.command("connect")
def label_studio_connect(
    project: _LsProject,
    url: _LsUrl,
    token: _LsToken,
    receiver: Annotated[
        str | None,
        typer.Option(help="the worker's web address as Label Studio reaches it (default: "
                     "QUORUM_WEB_HOST and QUORUM_WEB_PORT)"),
    ] = None,
    quorum_project: _QuorumProject = None,
    backfill: Annotated[
        bool, typer.Option(help="also stream what the project holds now (its export)")
    ] = True,
    every: Annotated[
        str | None,
        typer.Option(help="connect again on this schedule until stopped (e.g. 15m, 1h): "
                     "what Label Studio could not deliver while Quorum was unreachable "
                     "comes in by the next pass"),
    ] = None,
) -> None:
    """Register the project's webhook to a worker's receiver (or update it), configure the
    Quorum project from the Label Studio one if it has no configuration, and stream the
    annotations made so far, deleting those Label Studio no longer has (deleted while no
    webhook reached Quorum); a distributing project's label stream gets the project's
    tasks. Run it again at will, or on a schedule with --every: nothing is counted twice."""
    from datetime import UTC, datetime

    from streams.label_studio_api import LabelStudio, webhook_url
    from streams.periodic import parse_interval, run_periodically

    settings = _settings()
    quorum_id = quorum_project or str(project)
    studio = LabelStudio(url, token)
    hook = webhook_url(receiver or _default_web_url(settings), quorum_id)

    def connect() -> None:
        _connect_pass(settings, studio, project, quorum_id, hook, backfill=backfill)

    if every is None:
        try:
            connect()
        except QuorumError as exc:
            raise _fail(exc) from None
        return
    if not backfill:
        raise _fail(QuorumError("--every repeats the backfill, which is what recovers missed "
                                "webhooks: leave out --no-backfill"))
    try:
        every_s = parse_interval(every)
    except ValueError as exc:
        raise _fail(exc) from None

    def scheduled() -> None:
        console.rule(f"pass at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        connect()

    def failed(exc: Exception, wait: float) -> None:
        console.print(f"[red]this pass failed:[/red] {exc}\nthe next pass tries again in "
                      f"{wait:.0f} s")

    console.print(f"connecting Label Studio project {project} to {quorum_id} every {every} "
                  "(Ctrl-C or SIGTERM stops; a pass cut short is safe to run again)")
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop, as Ctrl-C
    with contextlib.suppress(KeyboardInterrupt):
        run_periodically(scheduled, every_s, retry_on=(QuorumError,), on_error=failed)
    console.print("stopped")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@label_studio_app.command("reassign")
def label_studio_reassign(
    project: _LsProject, url: _LsUrl, token: _LsToken, quorum_project: _QuorumProject = None,
) -> None:
    """Carry out Quorum's reassign requests in Label Studio as they come: a task below the
    agreement threshold with budget left gets its overlap raised and is marked unlabeled,
    so that Label Studio offers it to one more annotator, one who has not annotated it.
    Runs until Ctrl-C or SIGTERM; a restart resumes where it stopped, and a request
    carried out before changes nothing. The token's user must be allowed to change the
    project's tasks."""

    from streams.label_studio_api import LabelStudio
    from streams.label_studio_follow import follow
    from streams.label_studio_overlap import OverlapRaise
    from streams.label_studio_reassign import DELETED, RAISED, REASSIGN, carry_out

    settings = _settings()
    quorum_id = quorum_project or str(project)
    studio = LabelStudio(url, token)

    def outcome(change: OverlapRaise, what: str) -> None:
        score = "-" if change.agreement is None else f"{change.agreement:.2f}"
        if what == RAISED:
            console.print(f"task {change.task_id}: overlap {change.overlap}, offered to one "
                          f"more annotator (agreement {score})")
        elif what == DELETED:
            console.print(f"task {change.task_id}: deleted in Label Studio, nothing to do")
        else:
            console.print(f"task {change.task_id}: has its {change.overlap} annotations or is "
                          "open for them already")

    console.print(f"carrying out the reassign requests of {quorum_id} in Label Studio project "
                  f"{project} (Ctrl-C or SIGTERM stops)")
    _run_follower(settings, lambda stopping: follow(
        settings, REASSIGN, quorum_id, lambda c: carry_out(studio, c), stopping=stopping,
        on_outcome=outcome, on_retry=_label_studio_retry))
    console.print("stopped")


def _label_studio_retry(exc: Exception, wait: float) -> None:
    console.print(f"[red]Label Studio did not take it:[/red] {exc}\ntrying again in "
                  f"{wait:.0f} s")


def _run_follower(settings: Settings,
                  follow: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run a Label Studio follower until Ctrl-C or SIGTERM sets its ``stopping`` event."""
    from aiokafka.errors import KafkaError

    async def run() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await follow(stopping)

    try:
        asyncio.run(run())
    except (KafkaError, OSError) as exc:
        raise _fail(_unreachable(settings, exc)) from None


@label_studio_app.command("scores")
def label_studio_scores(
    project: _LsProject, url: _LsUrl, token: _LsToken, quorum_project: _QuorumProject = None,
    backfill: Annotated[bool, typer.Option(
        "--backfill", help="first write every task the stream holds (from Redis): for a "
        "first run on a deployment older than the output topics' retention")] = False,
) -> None:
    """Write Quorum's agreement of each task into the task in Label Studio as it changes:
    data.quorum_agreement and data.quorum_status, which the Data Manager shows as columns
    to sort and filter by (lowest agreement first, for reviewers). Runs until Ctrl-C or
    SIGTERM; a restart resumes where it stopped, and a score written before is not
    written again. The token's user must be allowed to change the project's tasks."""

    from streams.label_studio_api import LabelStudio
    from streams.label_studio_follow import carry_all, follow
    from streams.label_studio_scores import (
        DELETED,
        SCORES,
        WRITTEN,
        TaskScore,
        held_scores,
        write_score,
    )
    from streams.operations import task_statuses

    settings = _settings()
    quorum_id = quorum_project or str(project)
    studio = LabelStudio(url, token)
    written = 0

    def write(score: TaskScore) -> str:
        return write_score(studio, score)

    def outcome(score: TaskScore, what: str) -> None:
        nonlocal written
        if what == WRITTEN:
            written += 1
            agreement = "-" if score.agreement is None else f"{score.agreement:.2f}"
            console.print(f"task {score.task_id}: agreement {agreement}, {score.status}")
        elif what == DELETED:
            console.print(f"task {score.task_id}: deleted in Label Studio, nothing to write")

    async def backfill_first(stopping: asyncio.Event) -> bool:
        """Every Label Studio task the stream holds, with a progress bar; False if
        stopped before the end."""
        scores = held_scores(await task_statuses(settings, quorum_id))
        before = written
        with _progress() as progress:
            bar = progress.add_task(f"backfilling {len(scores):,} tasks", total=len(scores))

            def counted(score: TaskScore, what: str) -> None:
                nonlocal written
                written += what == WRITTEN
                progress.advance(bar)

            done = await carry_all(scores, write, stopping=stopping, on_outcome=counted,
                                   on_retry=_label_studio_retry)
        console.print(f"backfilled: {written - before:,} of {len(scores):,} tasks written, "
                      "the others showed their score already")
        return done

    async def run(stopping: asyncio.Event) -> None:
        if backfill and not await backfill_first(stopping):
            return
        console.print(f"writing the agreement of {quorum_id}'s tasks into Label Studio "
                      f"project {project} as data.quorum_agreement and data.quorum_status "
                      "(Ctrl-C or SIGTERM stops)")
        await follow(settings, SCORES, quorum_id, write, stopping=stopping,
                     on_outcome=outcome, on_retry=_label_studio_retry)

    _run_follower(settings, run)
    console.print(f"stopped ({written} task{'' if written == 1 else 's'} written)")


def _connect_pass(settings: Settings, studio: LabelStudio, project: int, quorum_id: str,
                  hook: str, *, backfill: bool) -> None:
    """One `connect`: the webhook, the configuration, then (``backfill``) the export's
    annotations and the deletions missed. Raises :class:`QuorumError` with what to do."""
    from aiokafka.errors import KafkaError

    from streams.export_events import annotation_events
    from streams.label_studio_sync import export_snapshot, newer_than_stream, tasks_to_read
    from streams.operations import (
        annotation_entries_in_stream,
        label_studio_annotations,
        label_studio_task_ids,
        project_distributes,
    )

    secret = settings.webhook_token.get_secret_value() if settings.webhook_token else None
    known: dict[str, str] = {}
    known_tasks: set[str] = set()
    try:
        what, hook_id = studio.connect_webhook(project, hook, secret)
        console.print(f"webhook {hook_id} {what}: Label Studio project {project} -> {hook}")
        details = studio.project(project)
        if backfill:
            # Read before the export: an annotation or task made meanwhile reaches the
            # receiver, which remembers it, and must not be taken for one deleted.
            known = asyncio.run(label_studio_annotations(settings, quorum_id))
            known_tasks = asyncio.run(label_studio_task_ids(settings, quorum_id))
        export = studio.export(project) if backfill else None
    except (RedisError, OSError) as exc:
        raise QuorumError(f"{_unreachable(settings, exc)}, then run this again (the "
                          "webhook is in place)") from None
    try:
        events = [] if export is None else list(annotation_events(export, quorum_id))
        snapshot = export_snapshot(export) if export is not None else None
    except ValueError as exc:
        raise QuorumError(f"Label Studio's export of project {project}: {exc}") from None
    try:
        if asyncio.run(_configure_from_label_studio(settings, quorum_id, details)):
            console.print(f"project {quorum_id}: configured from Label Studio project {project}")
        if snapshot is None:
            return
        if asyncio.run(project_distributes(settings, quorum_id)):
            _sync_label_stream(settings, quorum_id, known_tasks, snapshot)
        # One read of the stream's records serves both: what it holds of the export's
        # annotations, and which missing ones it holds as deleted already.
        held = asyncio.run(annotation_entries_in_stream(settings, quorum_id,
                                                        tasks_to_read(known, snapshot)))
        fresh = newer_than_stream(events, held)
        _stream_annotations(settings, quorum_id, events,
                            "streaming the annotations new or changed in Label Studio",
                            send=fresh)
        console.print(f"sent {len(fresh)} annotation events of project {quorum_id} (of the "
                      f"export's {len(events)}, {len(events) - len(fresh)} are in the stream "
                      "as they are)")
        deletions = _missed_deletions(studio, quorum_id, known, snapshot, held)
        _send_annotation_events(settings, deletions, "deleting what Label Studio no longer has")
        console.print(f"deleted {len(deletions)} annotations that Label Studio no longer has "
                      "(deleted while no webhook reached Quorum)")
    except (KafkaError, RedisError, OSError) as exc:
        raise QuorumError(f"{_unreachable(settings, exc)}, then run this again (the "
                          "webhook is in place)") from None


def _sync_label_stream(settings: Settings, project_id: str, known_tasks: set[str],
                       snapshot: ExportSnapshot) -> None:
    """A distributing project's label stream gets every task of the export and loses the
    tasks the export no longer lists (:func:`streams.label_studio_sync.label_stream_events`)."""
    from datetime import UTC, datetime

    from streams.label_studio_sync import label_stream_events
    from streams.operations import send_label_studio_tasks

    imports, deletions = label_stream_events(
        project_id, known_tasks, snapshot, occurred_at=datetime.now(UTC).isoformat())
    asyncio.run(send_label_studio_tasks(settings, project_id, [*imports, *deletions]))
    console.print(f"label stream of project {project_id}: {len(imports)} tasks of Label "
                  f"Studio's (those it had are unchanged), {len(deletions)} removed that "
                  "Label Studio no longer lists")


def _missed_deletions(studio: LabelStudio, project_id: str, known: dict[str, str],
                      snapshot: ExportSnapshot, held: dict[str, tuple[int, str]]
                      ) -> list[dict[str, Any]]:
    """:func:`streams.operations.label_studio_deletions`, asking Label Studio about the
    tasks its export leaves out, with a progress bar."""
    from streams.operations import label_studio_deletions

    progress = _progress()
    bar = progress.add_task("asking Label Studio about tasks its export leaves out")

    def asked(answered: int, total: int) -> None:
        if answered == 1:  # shown only when there is something to ask
            progress.start()
        progress.update(bar, completed=answered, total=total)

    try:
        found = asyncio.run(label_studio_deletions(
            project_id, known, snapshot, held, studio.has_task, on_asked=asked))
    finally:
        if progress.live.is_started:
            progress.stop()
    if found.elsewhere:
        console.print(f"{len(found.elsewhere)} tasks are in another Label Studio project: "
                      "their annotations are left alone")
    return found.events


async def _configure_from_label_studio(settings: Settings, project_id: str,
                                       details: dict[str, Any]) -> bool:
    from redis.asyncio import Redis

    from streams.label_studio_receiver import follow_label_studio
    from streams.label_studio_webhook import Webhook, project_config_body
    from streams.state.keys import Keys

    body = project_config_body(Webhook("connect", project_id, details))
    if body is None:
        return False
    redis = Redis.from_url(settings.redis_url)
    try:
        stored = await redis.hget(Keys(settings.key_prefix).project_configs(), project_id)
        return await follow_label_studio(settings, redis, project_id, body, stored)
    finally:
        await redis.aclose()


def _default_web_url(settings: Settings) -> str:
    """The web API of a `quorum worker` run with these settings (on this machine when it
    listens on every interface)."""
    host = settings.web_host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.web_port}"


def _send_annotator_events(project: str, annotators: list[str], kind: str) -> None:
    from streams.models.workflow import annotator_event

    sent = _send_workflow(project, [annotator_event(project, a, kind) for a in annotators])
    console.print(f"sent {sent} '{kind}' events of project {project}")


def _send_workflow(project: str, bodies: list[dict[str, Any]]) -> int:
    """Produce workflow events keyed by the project, flush, and return how many were sent."""
    from aiokafka.errors import KafkaError

    from streams.operations import latest_project_config, send_workflow

    settings = _settings()
    try:
        sent = asyncio.run(send_workflow(settings, project, bodies))
    except (KafkaError, OSError) as exc:
        raise _fail(QuorumError(
            f"cannot send to Kafka at {settings.kafka_bootstrap} ({type(exc).__name__}: {exc}); "
            "start it with `quorum infra up`"
        )) from None
    # Sent either way (the project may be set to distribute later); said, because until
    # then the label stream offers its annotators nothing, with no other sign why.
    with contextlib.suppress(QuorumError, KafkaError, OSError):
        config = asyncio.run(latest_project_config(settings, project))
        if config is None or not config.distribute:
            console.print(
                f"[yellow]project {project} does not distribute its tasks[/yellow]: the "
                "worker keeps these events, but the label stream hands out none of its tasks "
                f"until `quorum project set {project} --distribute`", highlight=False)
    return sent


@app.command()
def demo(
    tasks: Annotated[int, typer.Option(help="tasks in the simulated project")] = 10_000,
    annotators: Annotated[int, typer.Option(help="simulated annotators (3 to 5 per task)")] = 5,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Quorum's main job: infrastructure up, a worker, a labeling operation streamed through."""
    from streams.demo import run_demo

    logging.basicConfig(level=logging.WARNING)
    # Right after the demo creates its topics, the client retries a few produce requests
    # until the partition leaders are known: expected, and not worth a warning on screen.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    try:
        run_demo(_settings(), tasks=tasks, annotators=annotators, seed=seed, console=out)
    except QuorumError as exc:
        raise _fail(exc) from None


@app.command()
def rebuild(
    yes: Annotated[bool, typer.Option("--yes", help="really delete the derived state")] = False,
    allow_partial_history: Annotated[bool, typer.Option(
        "--allow-partial-history",
        help="rebuild even though Kafka no longer holds the inputs' first events",
    )] = False,
) -> None:
    """Delete all derived state in Redis so that workers rebuild it from the input topics.

    Stop the workers first. On restart they find no applied offset and replay every
    partition from its beginning (e.g. after changing a project's metric or weights).
    Project configurations are kept. Refused, before anything is deleted, when an input
    partition no longer starts at offset 0: its older events are gone.
    """
    from aiokafka.errors import KafkaError

    from streams.operations import delete_state, require_full_history

    if not yes:
        raise _fail(QuorumError("this deletes every task's state; run again with --yes"))
    settings = _settings()
    if not allow_partial_history:
        try:
            asyncio.run(require_full_history(settings))
        except QuorumError as exc:
            raise _fail(exc) from None
        except (KafkaError, OSError) as exc:
            raise _fail(_unreachable(settings, exc)) from None
    removed = asyncio.run(delete_state(settings))
    console.print(f"deleted {removed} state keys; start the workers to rebuild")


@app.command()
def score(
    export: Annotated[Path, typer.Argument(help="Label Studio JSON export (Export > JSON)")],
    config: Annotated[
        Path | None, typer.Option(help="labeling config (XML): picks each tag's metric")
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option(
            help="project JSON (GET /api/projects/ID): its label_config and control_weights"
        ),
    ] = None,
    methodology: Annotated[str, typer.Option(help="pairwise or consensus")] = "pairwise",
    threshold: Annotated[
        float | None, typer.Option(help="count the tasks below this agreement")
    ] = None,
    lowest: Annotated[int, typer.Option(min=0, help="list this many lowest tasks")] = 10,
    report: Annotated[Path, typer.Option(help="JSON report to write")] = Path("score-report.json"),
    histogram: Annotated[
        Path, typer.Option(help="PNG histogram of task agreement to write")
    ] = Path("score-histogram.png"),
) -> None:
    """Score a Label Studio JSON export offline: tasks, annotators, project statistics."""
    from agreement import read_export
    from streams.report import build_report, write_histogram, write_report
    from streams.report_tables import report_tables

    _check_threshold(threshold)
    try:
        body = _score_input(export, "a Label Studio JSON export", json=True)
        with _naming(export):
            tasks = read_export(body)
        scoring = _score_config(config, project, methodology)
    except QuorumError as exc:
        raise _fail(exc) from None
    try:
        if len(tasks) > _SCORE_PROGRESS_TASKS:
            with _progress() as progress:
                bar = progress.add_task(f"scoring {export.name}", total=len(tasks))
                built = build_report(
                    tasks, scoring, threshold=threshold, on_task=lambda: progress.advance(bar)
                )
        else:
            built = build_report(tasks, scoring, threshold=threshold)
    except ValueError as exc:
        raise _fail(ValueError(f"{export}: {exc}")) from None
    if built.summary.annotations == 0:
        console.print(
            f"{export} has {len(tasks)} tasks and no annotation to score (skipped annotations "
            "and predictions do not count): export the project once it is annotated"
        )
        return
    for table in report_tables(built, export.name, lowest):
        out.print(table)
    try:
        write_report(built, report, export=str(export))
        write_histogram(built, histogram, export.name)
    except OSError as exc:
        raise _fail(
            QuorumError(
                f"cannot write the report ({exc}); pass --report and --histogram paths in a "
                "directory that exists"
            )
        ) from None
    console.print(f"report written to {report}, histogram to {histogram}")


_SCORE_PROGRESS_TASKS = 2_000  # below this, scoring takes about a second: no progress bar


@app.command()
def stats(
    project: Annotated[str, typer.Argument(help="project id, as in the annotation events")],
    threshold: Annotated[
        float | None, typer.Option(help="count the tasks below this agreement")
    ] = None,
    lowest: Annotated[int, typer.Option(min=0, help="list this many lowest tasks")] = 10,
    report: Annotated[Path | None, typer.Option(help="also write this JSON report")] = None,
    histogram: Annotated[
        Path | None, typer.Option(help="also write this PNG histogram of task agreement")
    ] = None,
) -> None:
    """A project's agreement as the stream holds it now: the report of `quorum score`.

    Reads the project's task records from Redis (every partition) and its configuration,
    and scores them with the same code as `quorum score`: per task and tag, per
    annotator, Krippendorff's alpha, Fleiss' and Cohen's kappa.
    """
    from agreement import ScoringConfig
    from streams.operations import list_projects, project_tasks
    from streams.report import build_report, write_histogram, write_report
    from streams.report_tables import report_tables

    settings = _settings()
    _check_threshold(threshold)
    try:
        tasks = asyncio.run(project_tasks(settings, project))
        rows = {row.project_id: row for row in asyncio.run(list_projects(settings))}
    except (OSError, RedisError) as exc:
        raise _fail(QuorumError(
            f"cannot read Redis at {settings.redis_url} ({exc}); start it with `quorum infra up`"
        )) from None
    if not tasks:
        raise _fail(QuorumError(
            f"no task of project {project!r} in the state under prefix {settings.key_prefix!r}; "
            "check the project id, and QUORUM_REDIS_PREFIX (or QUORUM_TOPIC_PREFIX, which "
            "it defaults to; `quorum project list`)"
        ))
    # A project without configuration is scored with the defaults, as the worker does.
    scoring = rows[project].config.scoring if project in rows else ScoringConfig()
    with _progress() as progress:
        bar = progress.add_task(f"scoring {len(tasks):,} tasks", total=len(tasks))
        built = build_report(
            tasks, scoring, threshold=threshold, on_task=lambda: progress.advance(bar)
        )
    for table in report_tables(built, f"project {project}", lowest):
        out.print(table)
    try:
        if report is not None:
            write_report(built, report, export=f"project {project}")
            console.print(f"report written to {report}")
        if histogram is not None:
            write_histogram(built, histogram, f"project {project}")
            console.print(f"histogram written to {histogram}")
    except OSError as exc:
        raise _fail(QuorumError(f"cannot write the report: {exc}")) from None


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise _fail(QuorumError(f"--threshold must be between 0 and 1, got {threshold:g}"))


def _score_config(config: Path | None, project: Path | None, methodology: str) -> Any:
    """The ScoringConfig of `quorum score`; a QuorumError naming the file that is wrong."""
    from agreement import ScoringConfig, parse_label_config, read_project

    label_config = None if config is None else _score_input(config, "a labeling config")
    body = None if project is None else _score_input(project, "a project", json=True)
    # Read each input on its own first, so that an error names the file it is in.
    with _naming(config):
        if label_config is not None:
            parse_label_config(label_config)
    with _naming(project):
        if body is not None:
            read_project(body)
    with _naming(None):
        return ScoringConfig.from_label_studio(label_config, body, methodology=methodology)


@contextlib.contextmanager
def _naming(path: Path | None) -> Iterator[None]:
    """Turn a ValueError about an input of `quorum score` into a QuorumError naming it."""
    try:
        yield
    except ValueError as exc:
        raise QuorumError(f"{path}: {exc}" if path is not None else str(exc)) from None


def _score_input(path: Path, what: str, *, json: bool = False) -> Any:
    """The text (or decoded JSON) of an input of `quorum score`; QuorumError saying why not."""
    if not path.is_file():
        reason = "is a directory" if path.is_dir() else "does not exist"
        raise QuorumError(f"{path} {reason}; pass the path of {what}")
    try:
        raw = path.read_bytes()
        return orjson.loads(raw) if json else raw.decode("utf-8")
    except orjson.JSONDecodeError as exc:
        raise QuorumError(
            f"{path} is not JSON ({exc}); pass {what} as Label Studio writes it (JSON)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuorumError(f"cannot read {path} ({exc}); pass {what}") from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    )


def _one_line_summaries(group: typer.Typer) -> None:
    """Give every command of ``group`` (and its sub-groups) its docstring's first
    paragraph as one line, for the command lists of ``--help``.

    Typer's rich help lists a command by that paragraph with its line breaks kept, so a
    summary wrapped over two source lines showed as ragged lines mid-sentence.
    """
    for info in group.registered_commands:
        doc = info.callback.__doc__ if info.callback is not None else None
        if info.short_help is None and doc:
            info.short_help = " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_line_summaries(sub.typer_instance)


_one_line_summaries(app)

if __name__ == "__main__":
    app()
