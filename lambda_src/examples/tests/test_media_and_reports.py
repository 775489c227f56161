"""A heartbeating handler and one whose output can outgrow Step Functions' limit."""

from __future__ import annotations

import json
from pathlib import Path

from stepqueue_runtime.testing import FakeTask, MemoryPayloads, run_handler, run_sqs_event

from examples import media, payloads, reports

EVENTS = Path(__file__).resolve().parent.parent / "events"


def test_transcode_heartbeats_once_per_rendition() -> None:
    task = FakeTask(heartbeat_seconds=60)
    outcome = run_handler(
        media.transcode, {"source": "a.mov", "renditions": ["720p", "1080p"]}, task
    )
    assert outcome.succeeded and outcome.heartbeats == 2
    assert [o["key"] for o in outcome.output["outputs"]] == ["a.mov.720p.mp4", "a.mov.1080p.mp4"]


def test_transcode_stops_when_its_task_has_closed() -> None:
    # The task times out after the first heartbeat: the second answers False and the handler
    # gives up; its failure finds the task closed, so nothing is reported.
    task = FakeTask(heartbeat_seconds=60, closes_after=1)
    outcome = run_handler(media.transcode, {"renditions": ["720p", "1080p", "4k"]}, task)
    assert outcome.status == "already_finished" and outcome.heartbeats == 2


def test_a_task_already_closed_is_not_run_again() -> None:
    outcome = run_handler(media.transcode, {"renditions": ["720p"]}, FakeTask(closes_after=0))
    assert outcome.status == "already_finished" and outcome.ran is False


def test_the_sample_transcode_event() -> None:
    event = json.loads((EVENTS / "media_transcode_sqs_event.json").read_text(encoding="utf-8"))
    result = run_sqs_event(media.transcode, event)
    (outcome,) = result.tasks.values()
    assert outcome.succeeded and len(outcome.output["outputs"]) == 2


def test_a_report_too_large_for_step_functions_fails_the_task() -> None:
    event = json.loads((EVENTS / "reports_render_sqs_event.json").read_text(encoding="utf-8"))
    small, large = run_sqs_event(reports.render, event).tasks.values()
    assert small.succeeded and small.output["rows"] == 3
    assert large.error == "Stepqueue.OutputTooLarge"


def test_with_a_payload_bucket_a_large_output_travels_by_reference() -> None:
    bucket = MemoryPayloads("payloads", "produce")
    produced = run_handler(payloads.produce, {"seed": "s", "size_bytes": 300_000}, payloads=bucket)
    assert produced.succeeded and list(produced.output) == ["stepqueue:payload"]
    # The next worker of the workflow gets the payload itself, not the reference.
    digest = run_handler(
        payloads.digest, {"blob": produced.output}, payloads=bucket.for_worker("digest")
    )
    assert digest.output["bytes"] == 300_000 and digest.output["intact"] is True
