"""Every Redis key Quorum writes, in one place.

Keys of one input partition share the hash tag ``{p<N>}`` (``{w<N>}`` on the workflow
topic): everything one batch touches lives in one slot, so one script applies the whole
batch atomically, on one Redis or on Redis Cluster alike. Cross-partition views (the
agreement index, projects seen) are kept per partition and merged when read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one deployment's ``prefix`` (``Settings.key_prefix``)."""

    prefix: str

    def _tagged(self, partition: int) -> str:
        return f"{self.prefix}:{{p{partition}}}"

    def tasks(self, partition: int) -> str:
        """Hash: task field (``task_field``) -> the task's record, an orjson document.

        One hash per partition, not one key per task: a batch then reads and writes all
        its tasks with one command each (HMGET, HSET), not one per task.
        """
        return f"{self._tagged(partition)}:tasks"

    @staticmethod
    def task_field(project_id: str, task_id: str) -> str:
        """A task's field in the partition's ``tasks`` hash.

        Ids may contain ':': escaped in the project id, project "a:b" task "c" and
        project "a" task "b:c" cannot share a field. Ids without ':' or '%' are unchanged.
        """
        project = project_id.replace("%", "%25").replace(":", "%3A")
        return f"{project}:{task_id}"

    @staticmethod
    def task_ref(field: str) -> tuple[str, str]:
        """``(project id, task id)`` of a field made by :meth:`task_field`.

        The escaped project id holds no ':', so the first one ends it; every '%' in it
        starts an escape ("%25" or "%3A"), so undoing "%3A" before "%25" is exact.
        """
        project, _, task_id = field.partition(":")
        return project.replace("%3A", ":").replace("%25", "%"), task_id

    def offset(self, partition: int) -> str:
        """String: the last input offset whose effects are applied. Written with the state."""
        return f"{self._tagged(partition)}:offset"

    def owner(self, partition: int) -> str:
        """String: the fencing token of the worker that owns the partition (INCR on claim)."""
        return f"{self._tagged(partition)}:owner"

    def outbox(self, partition: int) -> str:
        """List: output events applied but not yet known to be published."""
        return f"{self._tagged(partition)}:outbox"

    def agreement_index(self, partition: int, project_id: str) -> str:
        """Sorted set: task id -> current agreement, for "tasks below X" queries."""
        return f"{self._tagged(partition)}:agreement:{project_id}"

    def projects_seen(self, partition: int) -> str:
        """Set: project ids with annotations on this partition (configured or not)."""
        return f"{self._tagged(partition)}:projects"

    def project_configs(self) -> str:
        """Hash: project id -> configuration JSON, written by the projects agent."""
        return f"{self.prefix}:projects:config"

    def label_studio_annotations(self, project_id: str) -> str:
        """Hash: Label Studio annotation id -> its task id, kept by the webhook receiver
        while the annotation exists (Label Studio's delete webhook names no task)."""
        return f"{self.prefix}:label-studio:{project_id}:annotations"

    def label_studio_tasks(self, project_id: str) -> str:
        """Set: the Label Studio task ids a distributing project's label stream got from
        Label Studio (the receiver's ``TASKS_CREATED``, ``connect``), less the deleted;
        ``connect`` looks for the ones Label Studio deleted while no webhook got through."""
        return f"{self.prefix}:label-studio:{project_id}:tasks"

    def label_studio_config(self, project_id: str) -> str:
        """String: the configuration the webhook receiver last set from the project's
        Label Studio settings (it follows them while the stored one is still this)."""
        return f"{self.prefix}:label-studio:{project_id}:config"

    def partition_pattern(self, suffix: str) -> str:
        """A SCAN pattern over every partition's key of one kind, e.g. ``projects``."""
        return f"{self.prefix}:{{p*}}:{suffix}"

    # Workflow state (task distribution), per partition of ``<prefix>.workflow``. Its own
    # hash tag ``{w<N>}``: the workflow topic's partitions are not the annotations topic's,
    # and one script touches only one workflow partition's keys.

    def _workflow_tagged(self, partition: int) -> str:
        return f"{self.prefix}:{{w{partition}}}"

    def workflow_owner(self, partition: int) -> str:
        """String: the fencing token of the workflow partition's owner (INCR on claim)."""
        return f"{self._workflow_tagged(partition)}:owner"

    def workflow_offset(self, partition: int) -> str:
        """String: the last workflow input offset applied (its effects in journal or snapshot)."""
        return f"{self._workflow_tagged(partition)}:offset"

    def workflow_requests(self, partition: int) -> str:
        """String: how many label-stream requests were applied (the last request's number)."""
        return f"{self._workflow_tagged(partition)}:requests"

    def workflow_snapshot(self, partition: int) -> str:
        """Hash: project -> distribution state JSON, plus what the snapshot reflects.

        Reserved fields ``_offset`` (input offset, '' = none) and ``_requests`` (request
        count); project fields are escaped so that no project id can take their place
        (see ``streams.state.workflow_store``).
        """
        return f"{self._workflow_tagged(partition)}:snapshot"

    def workflow_journal(self, partition: int) -> str:
        """List: what was applied since the snapshot, one entry per batch or request,
        oldest first; replayed on top of the snapshot on recovery."""
        return f"{self._workflow_tagged(partition)}:journal"

    def workflow_outbox(self, partition: int) -> str:
        """List: workflow output events applied but not yet known to be published."""
        return f"{self._workflow_tagged(partition)}:outbox"

    def workflow_pattern(self, suffix: str) -> str:
        """A SCAN pattern over every workflow partition's key of one kind, e.g. ``journal``."""
        return f"{self.prefix}:{{w*}}:{suffix}"
