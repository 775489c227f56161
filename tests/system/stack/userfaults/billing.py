"""A user's own handlers, outside lambda_src/examples (test_e2e_user_handlers.py): one
succeeds, one returns output JSON cannot encode, one raises SystemExit. Each appends a line to
the run log its payload names, so the test can count how often each ran."""

import json


def _record(payload, name):
    with open(payload["run_log"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"handler": name, "id": payload["id"]}) + "\n")


def charge(payload, ctx):
    _record(payload, "charge")
    return {"charged": payload["id"]}


def garbled(payload, ctx):
    _record(payload, "garbled")
    return {"text": "\ud800"}  # a lone surrogate: no JSON encoder will send it


def quits(payload, ctx):
    _record(payload, "quits")
    raise SystemExit(3)
