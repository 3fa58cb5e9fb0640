"""Per task, how many annotators gave each value: the state behind the accumulators.

Accumulators are pure counters: the caller (which holds the task records) says which
value an annotation adds, removes or replaces; no annotator ids are kept, only counts.
Each subclass keeps its own sums up to date through two hooks: :meth:`TaskTally._shift`,
called with a task's counts just before they change (to take them out of the sums) and
just after (to put them back), and :meth:`TaskTally._swap` for a change of one value that
keeps the task's size. The cost of one change depends on that task's counts only,
never on the size of the project.

State layout (``to_state``), version 1::

    {"version": 1,
     "statistic": "krippendorff" | "fleiss",
     "values": [value, ...],                      # code -> value (str, int or float)
     "tasks": {"<task id>": [code, count, code, count, ...], ...}}

Codes are renumbered densely on every ``to_state`` (values no task holds any more are
dropped), pairs are sorted by code, counts are >= 1; the sums are not stored but rebuilt
by ``from_state``, so a state cannot disagree with itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from .codebook import Codebook, Value

STATE_VERSION = 1
"""Version of the accumulators' ``to_state`` layout; bump it when the layout changes."""


class TaskTally:
    """Value counts per task; subclasses maintain derived sums via :meth:`_shift`."""

    __slots__ = ("_codebook", "_tasks")

    statistic: ClassVar[str] = ""
    """Name written in the state, so a Fleiss state is never loaded as Krippendorff."""

    def __init__(self) -> None:
        self._codebook = Codebook()
        self._tasks: dict[str, dict[int, int]] = {}

    def __len__(self) -> int:
        """Number of tasks holding at least one value."""
        return len(self._tasks)

    def _shift(self, size: int, counts: dict[int, int], sign: int) -> None:
        """Add (``sign`` 1) or subtract (-1) a task's counts, of ``size`` values, to the sums."""
        raise NotImplementedError

    def _swap(self, size: int, counts: dict[int, int], old: int, new: int) -> None:
        """Update the sums for one value ``old`` of a task becoming ``new`` (counts before).

        The task's size does not change, so subclasses update only what the swap
        touches instead of taking the whole task out of the sums and back in.
        """
        raise NotImplementedError

    def counts(self, task: str) -> dict[Value, int]:
        """How many annotators gave each value on ``task`` (empty if none)."""
        values = self._codebook.values
        return {values[code]: count for code, count in self._tasks.get(task, {}).items()}

    def add(self, task: str, value: object) -> None:
        """Count one more annotation of ``task`` with ``value``."""
        if type(task) is not str:
            raise ValueError(f"task id {task!r} must be a str (it is a JSON key in the state)")
        code = self._codebook.code(value)
        counts = self._tasks.get(task)
        if counts is None:
            counts = self._tasks[task] = {}
            size = 0
        else:
            size = sum(counts.values())
            self._shift(size, counts, -1)
        counts[code] = counts.get(code, 0) + 1
        self._shift(size + 1, counts, 1)

    def remove(self, task: str, value: object) -> None:
        """Uncount one annotation of ``task`` with ``value`` (deleted or no longer counted)."""
        counts, code = self._held(task, value)
        size = sum(counts.values())
        self._shift(size, counts, -1)
        if counts[code] == 1:
            del counts[code]
        else:
            counts[code] -= 1
        if counts:
            self._shift(size - 1, counts, 1)
        else:
            del self._tasks[task]

    def replace(self, task: str, old: object, new: object) -> None:
        """One annotation of ``task`` changed from ``old`` to ``new``; one update, not two."""
        counts, old_code = self._held(task, old)
        new_code = self._codebook.code(new)
        if new_code == old_code:
            return
        self._swap(sum(counts.values()), counts, old_code, new_code)
        if counts[old_code] == 1:
            del counts[old_code]
        else:
            counts[old_code] -= 1
        counts[new_code] = counts.get(new_code, 0) + 1

    def _held(self, task: str, value: object) -> tuple[dict[int, int], int]:
        counts = self._tasks.get(task)
        code = self._codebook.find(value)
        if counts is None or code is None or code not in counts:
            raise ValueError(
                f"task {task!r} holds no value {value!r} to remove; pass the value the "
                "annotation was counted with"
            )
        return counts, code

    def to_state(self) -> dict[str, Any]:
        """JSON-able state (layout in the module docstring)."""
        used = sorted({code for counts in self._tasks.values() for code in counts})
        renumber = {old: new for new, old in enumerate(used)}
        values = self._codebook.values
        return {
            "version": STATE_VERSION,
            "statistic": self.statistic,
            "values": [values[code] for code in used],
            "tasks": {
                task: [
                    number
                    for code, count in sorted(counts.items())
                    for number in (renumber[code], count)
                ]
                for task, counts in self._tasks.items()
            },
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        """Rebuild from :meth:`to_state` output, sums included; checks the layout."""
        if state.get("version") != STATE_VERSION or state.get("statistic") != cls.statistic:
            raise ValueError(
                f"state is version {state.get('version')!r} of {state.get('statistic')!r}, "
                f"expected version {STATE_VERSION} of {cls.statistic!r}; rebuild it from "
                "the task records"
            )
        tally = cls()
        tally._codebook = Codebook(state["values"])
        n_values = len(tally._codebook)
        for task, flat in state["tasks"].items():
            codes, numbers = flat[::2], flat[1::2]
            if (
                not flat
                or len(codes) != len(numbers)
                or len(set(codes)) != len(codes)
                or not all(type(code) is int and 0 <= code < n_values for code in codes)
                or not all(type(count) is int and count >= 1 for count in numbers)
            ):
                raise ValueError(f"state has bad counts for task {task!r}: {flat!r}")
            counts = dict(zip(codes, numbers, strict=True))
            tally._tasks[task] = counts
            tally._shift(sum(numbers), counts, 1)
        return tally
