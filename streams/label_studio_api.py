"""The few Label Studio API calls ``quorum label-studio connect`` makes: sign in, register
(or update) the project's webhook to Quorum's receiver, and export the project's
annotations to stream what was labeled before.

Synchronous (``urllib``): the CLI makes a handful of calls. Errors are
:class:`LabelStudioError` with what Label Studio answered and what to do.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

from streams.errors import QuorumError
from streams.label_studio_webhook import WEBHOOK_PATH

_TIMEOUT_S = 60.0


class LabelStudioError(QuorumError):
    """Label Studio refused a call or could not be reached; the message says why."""


def with_predictions(export: Any, predictions: list[Any]) -> Any:
    """``export`` with each task's ``predictions`` replaced by its whole predictions (the
    predictions API's objects, which name their ``task``); an export that is not a list
    of tasks is left for :func:`agreement.label_studio.read_export` to refuse."""
    by_task: dict[object, list[Any]] = {}
    for prediction in predictions:
        if isinstance(prediction, dict):
            by_task.setdefault(prediction.get("task"), []).append(prediction)
    if isinstance(export, list):
        for task in export:
            if isinstance(task, dict):
                task["predictions"] = by_task.get(task.get("id"), [])
    return export


def webhook_url(receiver: str, quorum_project: str) -> str:
    """The receiver's webhook URL for a project: ``<receiver>/label-studio/webhook?project=``."""
    query = urllib.parse.urlencode({"project": quorum_project})
    return f"{receiver.rstrip('/')}{WEBHOOK_PATH}?{query}"


def webhook_body(project: int, url: str, token: str | None) -> dict[str, Any]:
    """A project webhook that sends every action with its payload (what the receiver
    reads), with the receiver's bearer token as a custom header when it has one."""
    return {
        "project": project,
        "url": url,
        "send_payload": True,
        "send_for_all_actions": True,
        "is_active": True,
        "headers": {"Authorization": f"Bearer {token}"} if token else {},
    }


def is_personal_access_token(token: str) -> bool:
    """Label Studio's personal access tokens are JWTs (three dot-separated parts); its
    legacy tokens are hex strings."""
    return token.count(".") == 2


@dataclass
class LabelStudio:
    """A Label Studio server and a user's token (legacy or personal access token)."""

    url: str
    token: str
    _auth: str | None = None

    def connect_webhook(self, project: int, url: str, token: str | None) -> tuple[str, int]:
        """Create the project's webhook to ``url``, or update the one already pointing
        there; ``("created" | "updated", webhook id)``."""
        body = webhook_body(project, url, token)
        hooks = self._call("GET", f"/api/webhooks/?project={project}")
        for hook in hooks if isinstance(hooks, list) else []:
            if isinstance(hook, dict) and hook.get("url") == url:
                self._call("PATCH", f"/api/webhooks/{hook['id']}/", body)
                return "updated", int(hook["id"])
        created = self._call("POST", "/api/webhooks/", body)
        return "created", int(created["id"])

    def project(self, project: int) -> dict[str, Any]:
        answer = self._call("GET", f"/api/projects/{project}/")
        if not isinstance(answer, dict):
            raise LabelStudioError(f"Label Studio answered project {project} with "
                                   f"{type(answer).__name__}, not a project")
        return answer

    def export(self, project: int) -> Any:
        """Every task of the project with its annotations (Label Studio's JSON export)
        and its predictions whole: the export lists them by id only, so they are read
        from the predictions API and put in their tasks' place."""
        export = self._call("GET", f"/api/projects/{project}/export?exportType=JSON"
                                   "&download_all_tasks=true")
        predictions = self._call("GET", f"/api/predictions/?project={project}")
        if not isinstance(predictions, list):
            raise LabelStudioError(f"Label Studio answered the predictions of project "
                                   f"{project} with {type(predictions).__name__}, not a list")
        return with_predictions(export, predictions)

    def has_task(self, task_id: str) -> bool:
        """Whether Label Studio still has the task, in any project (404: deleted)."""
        found = self._call("GET", f"/api/tasks/{urllib.parse.quote(task_id, safe='')}/",
                           missing_ok=True)
        return found is not None

    def task(self, task_id: int) -> dict[str, Any] | None:
        """The task as Label Studio holds it (``overlap``, ``is_labeled``,
        ``total_annotations``...); ``None`` if it was deleted."""
        found = self._call("GET", f"/api/tasks/{task_id}/", missing_ok=True)
        if found is not None and not isinstance(found, dict):
            raise LabelStudioError(f"Label Studio answered task {task_id} with "
                                   f"{type(found).__name__}, not a task")
        return found

    def raise_overlap(self, task_id: int, overlap: int) -> None:
        """Set the task's overlap and mark it unlabeled, so that Label Studio's next-task
        offers it to an annotator who has not annotated it yet (Label Studio 1.23.2 does,
        and marks it labeled again once the annotation comes; a PATCH of the overlap
        alone leaves ``is_labeled`` as it was, and the task is not offered)."""
        self._call("PATCH", f"/api/tasks/{task_id}/", {"overlap": overlap, "is_labeled": False})

    def set_task_data(self, task_id: int, data: dict[str, Any]) -> None:
        """Replace the task's ``data`` (pass all of it: keys left out are dropped); its
        keys show as Data Manager columns."""
        self._call("PATCH", f"/api/tasks/{task_id}/", {"data": data})

    def mark_labeled(self, task_id: int) -> None:
        """Mark the task labeled (Label Studio stops offering it)."""
        self._call("PATCH", f"/api/tasks/{task_id}/", {"is_labeled": True})

    def _authorization(self) -> str:
        if self._auth is None:
            if is_personal_access_token(self.token):
                answer = self._call("POST", "/api/token/refresh/", {"refresh": self.token},
                                    auth=False)
                self._auth = f"Bearer {answer['access']}"
            else:
                self._auth = f"Token {self.token}"
        return self._auth

    def _call(self, method: str, path: str, body: Any = None, *, auth: bool = True,
              missing_ok: bool = False, fresh_auth: bool = False) -> Any:
        """Label Studio's decoded answer; with ``missing_ok``, None for a 404.

        A personal access token's access token expires (minutes): a 401 gets a new one
        and the call once more, so that long-running commands (``connect --every``,
        ``reassign``) keep working.
        """
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = self._authorization()
        request = urllib.request.Request(
            f"{self.url.rstrip('/')}{path}", method=method, headers=headers,
            data=None if body is None else orjson.dumps(body))
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code == 404:
                return None
            if (exc.code == 401 and auth and not fresh_auth
                    and is_personal_access_token(self.token)):
                self._auth = None
                return self._call(method, path, body, auth=auth, missing_ok=missing_ok,
                                  fresh_auth=True)
            detail = exc.read()[:500].decode(errors="replace")
            hint = (" (check the token: a legacy token needs legacy tokens enabled in the "
                    "organization; a personal access token works as it is)"
                    if exc.code in (401, 403) else "")
            raise LabelStudioError(f"Label Studio answered {method} {path} with "
                                   f"{exc.code}: {detail}{hint}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise LabelStudioError(f"cannot reach Label Studio at {self.url} ({exc})") from None
        return orjson.loads(raw) if raw else None
