"""Small patches to moto 5.2.5, applied inside the emulator's server process.

Each shim covers one gap measured on this machine (docs/design.md §8) and is tested on its own in
tests/local/test_shims.py, so that after a moto upgrade the failing (or needless) ones show which
to drop. They patch moto's response/model classes in the current process only: call
`apply_shims()` in the process that runs the server, before it serves.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

# The DynamoDB operations serialised by the atomic shim. Writes are what must be atomic (a
# conditional update is check-then-write in moto); the item reads are included because moto
# mutates items in place, so a read running next to a write could see (or crash on) a
# half-applied update — real DynamoDB reads of one item are atomic too.
DYNAMODB_SERIALISED_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
    "get_item",
    "batch_get_item",
    "transact_get_items",
    "query",
    "scan",
)

_applied: set[str] = set()
_apply_lock = threading.Lock()


def _once(name: str, patch: Callable[[], None]) -> None:
    # Idempotent: a second call must not wrap a wrapper (a double lock would still work, but
    # a doubled RedrivePolicy rewrite would hide bugs).
    with _apply_lock:
        if name not in _applied:
            patch()
            _applied.add(name)


def _stepfunctions_validate_definition() -> None:
    # Gap: moto has no ValidateStateMachineDefinition; the AWS provider (5.x) calls it before
    # every create/update and retries the 500 for minutes. The emulator creates the machine
    # anyway and rejects invalid JSON there, so "OK, no diagnostics" is the honest answer here.
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self: Any) -> ActionResult:
        return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})

    setattr(  # noqa: B010 - a method moto lacks, added to its response class
        StepFunctionResponse, "validate_state_machine_definition", validate_state_machine_definition
    )


def _stepfunctions_list_versions() -> None:
    # Gap: moto has no ListStateMachineVersions; the provider lists versions when it reads a
    # state machine. We never publish versions, so an empty list is accurate.
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self: Any) -> ActionResult:
        return ActionResult({"stateMachineVersions": []})

    setattr(StepFunctionResponse, "list_state_machine_versions", list_state_machine_versions)  # noqa: B010


def _sqs_redrive_attributes() -> None:
    # Gaps: (1) RedriveAllowPolicy is stored on the queue but never returned by
    # GetQueueAttributes, so the provider's "attributes applied" waiter never finishes;
    # (2) RedrivePolicy is returned as json.dumps() output with spaces, while AWS returns compact
    # JSON, so the provider sees a perpetual diff.
    from moto.sqs.models import Queue

    original: Callable[[Any], dict[str, Any]] = Queue.__dict__["attributes"].fget
    # Queues created without the attribute have no such field; None is filtered from replies.
    setattr(Queue, "redrive_allow_policy", None)  # noqa: B010
    if "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"]

    @functools.wraps(original)
    def attributes(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        # Removing the policy sets it to "": AWS then omits it, and the provider's destroy
        # waits for exactly that.
        if not result.get("RedriveAllowPolicy"):
            result.pop("RedriveAllowPolicy", None)
        return result

    setattr(Queue, "attributes", property(attributes))  # noqa: B010


def _sqs_fifo_redelivery_order() -> None:
    # Gap: a FIFO group's in-flight messages that became visible again stay in moto's pending
    # set until a receive walks past each one, and the group counts as locked while any of them
    # is there; so the walk skips the first ones and delivers the LAST one first (measured:
    # records 1..4 of a group redelivered as 4, 1, 2, 3). SQS redelivers a group in order. Drop
    # the visible ones from the pending set before the walk, so the first is delivered first.
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message

    @functools.wraps(original)
    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            for message in [m for m in queue.pending_messages if m.visible]:
                queue.pending_messages.discard(message)
        return original(self, queue_name, *args, **kwargs)

    setattr(SQSBackend, "receive_message", receive_message)  # noqa: B010


# The queue counts moto computes by walking every message, and the SQS actions that never
# return them.
SQS_COUNT_PROPERTIES = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
SQS_ACTIONS_WITHOUT_COUNTS = ("send_message", "send_message_batch", "receive_message")


def _sqs_counts_only_when_asked() -> None:
    # Cost, not correctness: moto builds a queue's whole attribute map, whose three
    # ApproximateNumberOfMessages* walk every message and read the clock for each, whenever
    # anything reads one attribute: SendMessage to a FIFO queue reads it four times, and
    # ReceiveMessage once per message returned (for the retention period). A waiting room
    # holding N acquires makes every send O(N) and a burst O(N^2): measured, 41% of the
    # emulator's CPU at 600 executions, the largest single cost of the end-to-end benchmark.
    # Sends and receives never return counts, so while one runs (in this thread) the counts are
    # not computed; GetQueueAttributes and everything else still compute them exactly.
    from moto.sqs.models import Queue, SQSBackend

    in_action = threading.local()

    def counting(original: Callable[[Any], int]) -> Callable[[Any], int]:
        @functools.wraps(original)
        def count(self: Any) -> int:
            return 0 if getattr(in_action, "active", False) else original(self)

        return count

    for name in SQS_COUNT_PROPERTIES:
        setattr(Queue, name, property(counting(Queue.__dict__[name].fget)))

    def without_counts(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def action(*args: Any, **kwargs: Any) -> Any:
            outer = getattr(in_action, "active", False)
            in_action.active = True
            try:
                return original(*args, **kwargs)
            finally:
                in_action.active = outer

        action.__stepqueue_no_counts__ = True  # type: ignore[attr-defined]
        return action

    for name in SQS_ACTIONS_WITHOUT_COUNTS:
        setattr(SQSBackend, name, without_counts(getattr(SQSBackend, name)))


def _server_backend_names_listed_once() -> None:
    # Cost, not correctness: moto's server routes every request by listing its own package
    # directory (a listdir and an isdir per entry, about 150) while holding the dispatcher's
    # one lock, so every request in the emulator queues behind a filesystem scan: measured, 15%
    # of the emulator's samples at 600 executions, most of it threads waiting for that lock.
    # The installed package cannot change under a running server, so it is listed once.
    from moto import backends

    names = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> Iterable[str]:
        return names

    setattr(backends, "list_of_moto_modules", list_of_moto_modules)  # noqa: B010


def _stepfunctions_start_time_string() -> None:
    # Gap: moto puts a datetime object in the context object's $$.Execution.StartTime, where
    # AWS documents an ISO-8601 string. Any task passing it (the semaphore's acquire stores it
    # as the holder's value) fails with "Object of type datetime is not JSON serializable".
    import datetime

    from moto.stepfunctions.parser.backend import execution_worker

    original = getattr(execution_worker, "ExecutionData")  # noqa: B009 - not re-exported

    def execution_data(**fields: Any) -> Any:
        start = fields.get("StartTime")
        if isinstance(start, datetime.datetime):
            utc = start.astimezone(datetime.UTC)
            fields["StartTime"] = utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return original(**fields)

    setattr(execution_worker, "ExecutionData", execution_data)  # noqa: B010


def _stepfunctions_in_process_clients() -> None:
    # Cost, not correctness: moto's interpreter builds a new boto3 client for every service call
    # an execution makes (about 3 ms of CPU each, measured) and sends it over HTTP back to this
    # same server (a socket, a server thread, Flask), and a burst's waiting executions make one
    # per acquire retry. In one process under the GIL that time is taken from every other
    # request: at 200 executions it made the emulator, not the workflow, the bottleneck. So the
    # interpreter gets one client per (region, service), whose requests go straight to moto's
    # request dispatcher in this process: the same backends and response handlers (and the
    # DynamoDB lock shim) the HTTP path reaches.
    import importlib
    import pkgutil
    import sys

    import boto3
    import moto.stepfunctions.parser as parser
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.models import botocore_stubber
    from moto.stepfunctions.parser.asl.utils import boto_client

    for module in pkgutil.walk_packages(parser.__path__, parser.__name__ + "."):
        if ".state_task." in module.name:  # the task services that call other services
            importlib.import_module(module.name)
    original = boto_client.boto_client_for
    cache: dict[tuple[str, str], Any] = {}
    cache_lock = threading.Lock()

    def dispatch(request: Any, **_: Any) -> Any:
        response = botocore_stubber.process_request(request)
        if response is None:  # never let an interpreter call leave this process
            raise RuntimeError(f"no moto backend serves {request.url}")
        status, headers, body = response
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with cache_lock:
            client = cache.get((region, service))
            if client is None:
                # No endpoint_url: moto matches requests by their AWS host names.
                client = boto3.session.Session().client(
                    service,
                    region_name=region,
                    aws_access_key_id="ak",
                    aws_secret_access_key="sk",
                    config=Config(
                        parameter_validation=False,
                        retries={"max_attempts": 0, "total_max_attempts": 1},
                    ),
                )
                client.meta.events.register_first("before-send", dispatch)
                cache[(region, service)] = client
            return client

    boto_client_for.__stepqueue_in_process__ = True  # type: ignore[attr-defined]
    for loaded in list(sys.modules.values()):
        if getattr(loaded, "boto_client_for", None) is original:
            setattr(loaded, "boto_client_for", boto_client_for)  # noqa: B010


# Parsed definitions kept by the definition cache: a deployment has a handful of state machines
# (and their revisions); the bound only stops a long-running emulator from growing forever.
PARSED_DEFINITIONS_MAX = 64
JSON_PATHS_MAX = 4096


def _stepfunctions_parse_cache() -> None:
    # Cost, not correctness: moto's interpreter runs the ANTLR parser over the whole definition
    # at every StartExecution (13-45 ms of CPU for the burst workflow, measured), then builds
    # the evaluation components from the tree (12.5% of the emulator's busy time at 400
    # executions, profiled), and a burst starts hundreds at once. Both depend only on the
    # definition text and are only read while executions run: every per-execution value lives
    # in the execution's Environment (its frames, heap, context and variables), none on a
    # component. So both are kept per definition. Definitions that fail to parse are not cached:
    # they raise the same error every time.
    import collections

    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.utils import long_uid

    original = AmazonStateLanguageParser.parse
    parsed: collections.OrderedDict[str, tuple[Any, Any]] = collections.OrderedDict()
    lock = threading.Lock()

    def parse(definition: str) -> tuple[Any, Any]:
        with lock:
            program_and_tree = parsed.get(definition)
            if program_and_tree is not None:
                parsed.move_to_end(definition)
                return program_and_tree
        program_and_tree = original(definition)
        with lock:
            parsed[definition] = program_and_tree
            while len(parsed) > PARSED_DEFINITIONS_MAX:
                parsed.popitem(last=False)
        return program_and_tree

    # The one value a component sets on itself while evaluating: the key of its slot in an
    # execution's heap (a retrier's attempt count), drawn on first use. Shared by concurrent
    # executions, two first uses could each draw a key, and one execution would then lose its
    # attempt count; it is drawn once, under a lock.
    heap_keys = threading.Lock()

    def heap_key(component: Any) -> str:
        key: str | None = component.__dict__.get("_EvalComponent__heap_key")
        if key is None:
            with heap_keys:
                key = component.__dict__.get("_EvalComponent__heap_key")
                if key is None:
                    key = long_uid()
                    component._EvalComponent__heap_key = key
        return key

    parse.__stepqueue_cached__ = True  # type: ignore[attr-defined]
    setattr(AmazonStateLanguageParser, "parse", staticmethod(parse))  # noqa: B010
    setattr(EvalComponent, "heap_key", property(heap_key))  # noqa: B010


def _stepfunctions_json_path_cache() -> None:
    # Cost, not correctness: every JSONPath the interpreter evaluates ("$$.Execution.Id" in a
    # task's Parameters, a ResultPath) is compiled again by jsonpath-ng's PLY parser, about
    # 0.4 ms of CPU each (measured), several per state, and again at every acquire retry of
    # every waiting execution. A compiled path is an immutable expression that depends only on
    # its text, so each text is compiled once. Errors are not cached.
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (json_path, result_path):
        compiled = functools.lru_cache(maxsize=JSON_PATHS_MAX)(module.parse)
        compiled.__stepqueue_cached__ = True  # type: ignore[attr-defined]
        setattr(module, "parse", compiled)  # noqa: B010


# An expression runs at most this long and this deep: a runaway expression in a spec must not
# hold the emulator's one process (AWS bounds them too, with States.QueryEvaluationError).
JSONATA_TIMEOUT_MS = 5000
JSONATA_MAX_DEPTH = 200
# Step Functions' own JSONata functions that moto stubs out with a constant string; the shim
# serves them natively instead ($partition, $range and $parse are moto's and correct).
JSONATA_NATIVE_FUNCTIONS = ("$hash", "$uuid")
JSONATA_HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def jsonata_hash(value: Any, algorithm: Any) -> str:
    """Step Functions' `$hash(value, algorithm)`: the hex digest, as `States.Hash` gives."""
    name = JSONATA_HASH_ALGORITHMS.get(str(algorithm))
    if name is None:
        raise ValueError(f"$hash: unsupported algorithm {algorithm!r}")
    import hashlib

    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return hashlib.new(name, text.encode("utf-8")).hexdigest()


def evaluate_jsonata(expression: str) -> Any:
    """What moto's evaluator stub should do: evaluate the expression moto composed (its
    `$states`, variables and function declarations bound in front of the user's expression)."""
    import uuid

    import jsonata
    from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException

    try:
        compiled = jsonata.Jsonata(expression)
        compiled.set_runtime_bounds(JSONATA_TIMEOUT_MS, JSONATA_MAX_DEPTH)
        compiled.register_function("hash", jsonata_hash)
        compiled.register_function("uuid", lambda: str(uuid.uuid4()))
        return compiled.evaluate(None)
    except jsonata.JsonataError as error:
        raise JSONataException(getattr(error, "code", "UNKNOWN"), str(error)) from error


def _stepfunctions_jsonata() -> None:
    # Gap: moto 5.2.5 parses JSONata states but its evaluator is a stub (it calls None; the real
    # one needs a JVM), so every JSONata expression fails. Also: it binds each string variable as
    # `"text"` without escaping (a quote in a value breaks the expression), and declares $hash
    # and $uuid as functions returning "not supported" (so every generated FIFO deduplication id
    # would be the same string). The shim evaluates with jsonata-rs (chosen by measurement,
    # docs/local-emulator.md), binds values as JSON, and serves $hash and $uuid natively.
    import sys

    from moto.stepfunctions.parser.asl.component.intrinsic import jsonata as functions
    from moto.stepfunctions.parser.asl.jsonata import jsonata as module
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    original_eval = module.eval_jsonata_expression
    original_encode = module.encode_jsonata_variable_declarations

    def encode(bindings: dict[str, Any]) -> str:
        return "".join(
            f"{name}:={to_json_str(value, separators=(',', ':'))};"
            for name, value in bindings.items()
        )

    evaluate_jsonata.__stepqueue_shim__ = True  # type: ignore[attr-defined]
    for loaded in list(sys.modules.values()):
        if getattr(loaded, "eval_jsonata_expression", None) is original_eval:
            setattr(loaded, "eval_jsonata_expression", evaluate_jsonata)  # noqa: B010
        if getattr(loaded, "encode_jsonata_variable_declarations", None) is original_encode:
            setattr(loaded, "encode_jsonata_variable_declarations", encode)  # noqa: B010
    declarations: dict[str, str] = getattr(functions, "_DECLARATION_BY_VARIABLE_REFERENCE")  # noqa: B009
    for name in JSONATA_NATIVE_FUNCTIONS:
        declarations.pop(name, None)
    _preprocessor_scopes_per_instance()


def _preprocessor_scopes_per_instance() -> None:
    # Part of the same gap: moto's definition preprocessor keeps its stack of query-language
    # scopes in a class attribute, shared by every parse in the process. Terraform creates
    # state machines in parallel, so a JSONata definition's scope shows through in a JSONPath
    # one being parsed at the same time (measured: "Unsupported declaration in
    # QueryLanguage=JSONPath block: Parameters" for burst, media and orders), and a parse that
    # raises leaves its scope behind for every later one. Each preprocessor gets its own stack.
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original = Preprocessor.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._query_language_per_scope = []

    setattr(Preprocessor, "__init__", __init__)  # noqa: B010


def _dynamodb_transactions_back_up_touched_items() -> None:
    # Cost, not correctness: to roll back a cancelled TransactWriteItems, moto deep-copies the
    # whole table, once per item of the transaction, before applying any of it. A waiting room
    # keeps one item per waiter, so each gatekeeper commit (up to 100 items) copied every
    # waiter up to 100 times: 29% of the emulator's busy time at 400 executions, quadratic in
    # the line's length. Only the items a transaction names can change, so the backup it
    # takes keeps every other item as is (they are not touched until the next request) and
    # deep-copies those items alone; a rollback restores exactly what moto's would.
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    backing_up = threading.local()  # table name -> keys the running transaction names

    def deepcopy_table(self: Any, memo: dict[int, Any]) -> Any:
        touched = getattr(backing_up, "keys", {}).get(self.name)
        clone = copy.copy(self)
        memo[id(self)] = clone
        if touched is None:  # any other copy of a table: moto's, field by field
            for name, value in self.__dict__.items():
                setattr(clone, name, copy.deepcopy(value, memo))
            return clone
        items = copy.copy(self.items)  # the same defaultdict, its entries shared
        if self.has_range_key:
            for hash_key in items:
                items[hash_key] = dict(items[hash_key])
        for hash_key, range_key in touched:
            if self.has_range_key:
                if range_key in self.items.get(hash_key, {}):
                    items[hash_key][range_key] = copy.deepcopy(self.items[hash_key][range_key])
            elif hash_key in self.items:
                items[hash_key] = copy.deepcopy(self.items[hash_key])
        clone.items = items
        return clone

    Table.__deepcopy__ = deepcopy_table  # type: ignore[attr-defined]
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        keys: dict[str, set[tuple[Any, Any]]] = {}
        for entry in transact_items:
            for op in entry.values():
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                named = op.get("Key") or op.get("Item") or {}
                hash_value = named.get(table.hash_key_attr)
                range_value = named.get(table.range_key_attr) if table.range_key_attr else None
                if hash_value is None:
                    continue
                keys.setdefault(table.name, set()).add(
                    (
                        DynamoType(hash_value),
                        DynamoType(range_value) if range_value is not None else None,
                    )
                )
        backing_up.keys = keys
        try:
            return original(self, transact_items)
        finally:
            backing_up.keys = {}

    transact_write_items.__stepqueue_backs_up_touched_items__ = True  # type: ignore[attr-defined]
    setattr(DynamoDBBackend, "transact_write_items", transact_write_items)  # noqa: B010


def _dynamodb_atomic() -> None:
    # Gap: moto's conditional writes are not atomic across server threads (measured: 6–10
    # acquires above the limit per run of 32 threads × 200 cycles). Real DynamoDB is atomic per
    # item, so the emulator serialises item operations with one process-wide lock.
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    for name in DYNAMODB_SERIALISED_OPERATIONS:
        original = getattr(DynamoHandler, name)

        def locked(self: Any, _original: Callable[[Any], Any] = original) -> Any:
            with lock:
                return _original(self)

        functools.update_wrapper(locked, original)
        locked.__stepqueue_atomic__ = True  # type: ignore[attr-defined]
        setattr(DynamoHandler, name, locked)


def apply_shims(*, atomic_dynamodb: bool) -> list[str]:
    """Patch moto in this process; returns the names of the shims now active."""
    _once("stepfunctions.ValidateStateMachineDefinition", _stepfunctions_validate_definition)
    _once("stepfunctions.ListStateMachineVersions", _stepfunctions_list_versions)
    _once("stepfunctions.ContextStartTimeString", _stepfunctions_start_time_string)
    _once("sqs.RedriveAttributes", _sqs_redrive_attributes)
    _once("sqs.FifoRedeliveryOrder", _sqs_fifo_redelivery_order)
    _once("sqs.CountsOnlyWhenAsked", _sqs_counts_only_when_asked)
    _once("server.BackendNamesListedOnce", _server_backend_names_listed_once)
    _once("stepfunctions.InProcessServiceClients", _stepfunctions_in_process_clients)
    _once("stepfunctions.DefinitionParseCache", _stepfunctions_parse_cache)
    _once("stepfunctions.JsonPathCache", _stepfunctions_json_path_cache)
    _once("stepfunctions.JSONataEvaluation", _stepfunctions_jsonata)
    # Without atomicity the emulator's DynamoDB is moto's as shipped, slow transactions
    # included: that mode exists to show the races moto allows (tests/semaphore), and a
    # faster transaction narrows the window they need.
    if atomic_dynamodb:
        _once("dynamodb.AtomicItemOperations", _dynamodb_atomic)
        _once(
            "dynamodb.TransactionsBackUpTouchedItems", _dynamodb_transactions_back_up_touched_items
        )
    return sorted(_applied)
