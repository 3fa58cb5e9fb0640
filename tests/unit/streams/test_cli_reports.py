"""`quorum annotators report` and `quorum models report` against a stub worker: an
http.server in a thread answering canned JSON (built by the real report builders), so
these tests check the formatting and the error messages, not the worker."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.worker_process import free_port
from streams.workflow_report_tables import EXTREME_PAIRS
from streams.workflow_reports import annotators_report, models_report

from .test_workflow_reports import submit, three_annotators, two_versions, workflow

runner = CliRunner()
WIDE = {"COLUMNS": "200"}  # no squeezed cells: the assertions read whole figures


class Stub:
    """Answers GET <path> with ``answers[path]`` = (status, JSON body)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {}
        self.paths: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.paths.append(self.path)
                status, body = stub.answers.get(self.path, (404, "no route"))
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join()


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env={**WIDE, **(env or {})})


def test_annotators_report_prints_the_best_first_and_the_matrix(stub: Stub) -> None:
    q = three_annotators()
    q.reviewed("t1", "t1-u2", "accept", 1.0, 1_800_000_100.0)  # u2: the only perf score
    stub.answers["/projects/p1/annotators"] = (200, annotators_report("p1", workflow(q)))
    result = run("annotators", "report", "p1", "--url", stub.url)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    rows = [line.split()[0] for line in lines if line.strip().startswith("u")
            and len(line.split()) > 5 and "/" in line]
    # u2 has a performance score; u1 (agreement 0.5) before u3 (0.0).
    assert rows[:3] == ["u2", "u1", "u3"]
    assert "Annotator x annotator" in result.output
    matrix_row = next(line for line in lines if line.startswith("│ u1"))
    assert matrix_row.split("│")[2:5] == [" 1.000 ", " 0.750 ", " 0.000 "]
    assert "25.0 / 25.0" in result.output  # u1's lead times


def test_a_wide_matrix_becomes_its_most_and_least_agreeing_pairs(stub: Stub) -> None:
    from streams.quality import ProjectQuality

    q = ProjectQuality()
    people = [f"a{i:02d}" for i in range(14)]  # 14 > MAX_MATRIX
    for i, person in enumerate(people):
        earlier = {f"t-{other}": 1.0 - j / 100 for j, other in enumerate(people[:i])}
        submit(q, "t", person, pairs=earlier)
    report = annotators_report("p1", workflow(q))
    stub.answers["/projects/p1/annotators"] = (200, report)
    result = run("annotators", "report", "p1", "--url", stub.url)
    assert result.exit_code == 0, result.output
    pairs = len(report["matrix"]["pairs"])
    assert pairs == 14 * 13 // 2
    assert "most agreeing" in result.output and "least agreeing" in result.output
    assert f"{pairs - 2 * EXTREME_PAIRS} more pairs" in result.output
    assert "a00 / a01" in result.output  # agreement 1.0: the top
    assert "a00 / a13" not in result.output  # in the middle: left out


def test_models_report_prints_versions_regressions_and_timelines(stub: Stub) -> None:
    stub.answers["/projects/p1/models"] = (200, models_report("p1", workflow(
        models=two_versions())))
    result = run("models", "report", "p1", "--url", stub.url)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "v2 regressed" in out and "v1 regressed" not in out
    assert "0.833 (3)" in out and "1.000 (1)" in out
    assert "Regressions" in out
    assert "v1 over time" in out and "2027-01-15 " in out and "2027-01-16 " in out


def test_empty_reports_say_so(stub: Stub) -> None:
    stub.answers["/projects/p1/annotators"] = (200, annotators_report("p1", workflow()))
    stub.answers["/projects/p1/models"] = (200, models_report("p1", workflow()))
    assert "no annotation submitted" in run("annotators", "report", "p1", "--url",
                                             stub.url).output
    assert "no prediction scored yet" in run("models", "report", "p1", "--url", stub.url).output


def test_json_prints_the_answer_as_is(stub: Stub) -> None:
    body = models_report("p1", workflow(models=two_versions()))
    stub.answers["/projects/p1/models"] = (200, body)
    result = run("models", "report", "p1", "--url", stub.url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(json.dumps(body))


def test_the_default_url_is_the_workers_web_host_and_port(stub: Stub) -> None:
    stub.answers["/projects/p%2F1/annotators"] = (200, annotators_report("p/1", workflow()))
    result = run("annotators", "report", "p/1",
                 env={"QUORUM_WEB_HOST": "0.0.0.0", "QUORUM_WEB_PORT": str(stub.port)})
    assert result.exit_code == 0, result.output
    assert stub.paths == ["/projects/p%2F1/annotators"]  # the id is quoted


@pytest.mark.parametrize(("status", "error", "expected"), [
    (409, "project 'p1' is served by another worker", "pass --url of the one that owns"),
    (503, "the workflow agent is starting; retry shortly", "retry in a few seconds"),
    (404, "project 'p1' has no workflow state", "has no workflow state"),
])
def test_refusals_tell_what_to_do(stub: Stub, status: int, error: str, expected: str) -> None:
    stub.answers["/projects/p1/annotators"] = (status, {"error": error})
    result = run("annotators", "report", "p1", "--url", stub.url)
    assert result.exit_code == 1
    assert error in result.output and expected in result.output


def test_a_server_that_is_no_worker_is_named(stub: Stub) -> None:
    result = run("models", "report", "p1", "--url", stub.url)  # unknown path: plain 404
    assert result.exit_code == 1
    assert "is it a Quorum worker" in result.output


def test_no_worker_listening_says_how_to_start_one() -> None:
    port = free_port("127.0.0.1")
    result = run("annotators", "report", "p1", env={"QUORUM_WEB_PORT": str(port)})
    assert result.exit_code == 1
    assert f"no worker answers at http://127.0.0.1:{port}" in result.output
    assert "quorum worker" in result.output and "--url" in result.output
