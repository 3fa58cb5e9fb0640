"""What `quorum label-studio connect` asks of Label Studio (checked against a real
Label Studio 1.23.2 by hand: the webhook created, then updated; backfill and live
webhooks scored; a backfilled annotation deleted there left the stream)."""

from __future__ import annotations

from streams.label_studio_api import (
    is_personal_access_token,
    webhook_body,
    webhook_url,
    with_predictions,
)


def test_the_webhook_points_at_the_receiver_with_the_quorum_project() -> None:
    assert webhook_url("http://quorum:6066/", "sentiment v2") == (
        "http://quorum:6066/label-studio/webhook?project=sentiment+v2")


def test_the_webhook_sends_every_action_with_its_payload_and_the_token() -> None:
    body = webhook_body(7, "http://q/label-studio/webhook?project=7", "s3cret")
    assert body["project"] == 7 and body["url"].endswith("project=7")
    assert body["send_payload"] is True and body["send_for_all_actions"] is True
    assert body["headers"] == {"Authorization": "Bearer s3cret"}
    assert webhook_body(7, "http://q", None)["headers"] == {}


def test_personal_access_tokens_are_told_from_legacy_ones() -> None:
    assert is_personal_access_token("eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbiI6MX0.c2lnbmF0dXJl")
    assert not is_personal_access_token("admintoken0123456789abcdef0123456789abcd")


def test_the_export_gets_each_tasks_predictions_whole() -> None:
    # Label Studio 1.23.2's export lists predictions by id; the predictions API has them.
    export = [{"id": 5, "annotations": [], "predictions": [1]},
              {"id": 7, "annotations": [], "predictions": []}]
    whole = {"id": 1, "task": 5, "model_version": "m1", "result": []}
    merged = with_predictions(export, [whole, "not a prediction"])
    assert [task["predictions"] for task in merged] == [[whole], []]
    assert with_predictions({"not": "an export"}, [whole]) == {"not": "an export"}


def test_predictions_listed_by_id_are_left_out_of_the_export() -> None:
    from agreement.label_studio import read_export

    (task,) = read_export([{"id": 5, "annotations": [], "predictions": [1, 2]}])
    assert task.predictions == ()
