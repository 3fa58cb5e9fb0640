from streams.roles import WorkerAgents


def test_all_runs_both_batch_agents() -> None:
    assert WorkerAgents.ALL.runs_annotations and WorkerAgents.ALL.runs_workflow


def test_a_split_worker_runs_one_of_them() -> None:
    assert WorkerAgents.ANNOTATIONS.runs_annotations
    assert not WorkerAgents.ANNOTATIONS.runs_workflow
    assert WorkerAgents.WORKFLOW.runs_workflow
    assert not WorkerAgents.WORKFLOW.runs_annotations


def test_the_cli_values() -> None:
    assert [a.value for a in WorkerAgents] == ["all", "annotations", "workflow"]
