"""Small patches to moto, applied inside the emulator's server process.

Each shim covers one gap measured on this machine (docs/design.md §8) and is tested on its own in
tests/emulator/local/test_shims.py, so that after a moto upgrade the failing (or needless) ones
show which to drop. They patch moto's response/model classes in the current process only: call
`apply_shims()` in the process that runs the server, before it serves.

They were written against one moto release, `MOTO_VERSION`, and reach into its internals, which
change without notice between releases. So they refuse to run on any other release, and each
shim declares the moto `Target`s it patches or relies on: `apply_shims()` checks every target of
every shim it is about to apply, and raises `ShimError` naming each shim that no longer fits
before it patches anything. A shim that patches nothing is as much a failure as one that crashes,
so a target also fails when the patch would match nothing: a rebound global that no code reads,
a method added to a class that requests no longer reach, a table entry that is not there.
"""

from __future__ import annotations

import copy
import dis
import functools
import importlib
import inspect
import json
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import CodeType
from typing import Any, Literal

# The moto release the shims were written and checked against; the pins in pyproject.toml and
# requirements.txt must name it too (tests/unit/local/test_shim_targets.py holds them together).
MOTO_VERSION = "5.2.5"


class ShimError(RuntimeError):
    """The installed moto is not the one the shims fit: the emulator must not start on it."""


def installed_moto_version() -> str:
    import moto

    return str(moto.__version__)


def check_moto_version() -> None:
    """Raise ShimError unless the installed moto is `MOTO_VERSION`."""
    installed = installed_moto_version()
    if installed == MOTO_VERSION:
        return
    raise ShimError(
        f"moto {installed} is installed, but the emulator's shims (stepqueue/local/shims.py) "
        f"were written and checked for moto {MOTO_VERSION}.\n"
        f"Either install the pinned release: pip install -r requirements.txt "
        f"(or pip install 'moto[server]=={MOTO_VERSION}');\n"
        f"or move the shims to moto {installed}: set MOTO_VERSION in stepqueue/local/shims.py "
        f'to "{installed}", run tests/unit/local/test_shim_targets.py and '
        f"tests/emulator/local/test_shims.py, fix each shim whose targets moved and drop each "
        f"whose gap moto closed (its test_gap_* test fails), then pin moto {installed} in "
        f"pyproject.toml and requirements.txt."
    )


# What a shim does with a target, which decides what "fits" means:
#   replaces - the attribute exists (with `parameters`, exactly that signature: the replacement
#              was written for it);
#   uses     - the attribute exists (the shim calls or reads it);
#   adds     - the owner exists and the attribute does not: if moto grew it, the gap the shim
#              fills may be closed, and the shim would hide moto's own version;
#   property - a property defined on the class itself (the shim wraps its getter);
#   has      - a collection holding each of `keys` (the shim removes or overrides them);
#   lacks    - a collection holding none of `keys` (the shim appends them: one already there
#              means moto changed what the shim works around);
#   rebinds  - a module global the shim rebinds: it changes something only if code reads it
#              through that module, so each of `readers` (default: the module itself) must;
#   routes   - a URL map with a handler dispatching to each response class named in `keys`: a
#              method added to a class no request reaches would never be called.
Kind = Literal["replaces", "uses", "adds", "property", "has", "lacks", "rebinds", "routes"]

_VERBS: dict[str, str] = {
    "replaces": "replaces",
    "uses": "relies on",
    "adds": "adds",
    "property": "wraps",
    "has": "changes entries of",
    "lacks": "adds entries to",
    "rebinds": "rebinds",
    "routes": "adds methods reached through",
}


@dataclass(frozen=True)
class Target:
    """One thing in moto a shim patches or relies on: `attribute` (dotted) of module `module`.

    `reads`: names the target's code must read (what the patch hooks into: if moto's code
    stopped reading them, the patch would match nothing)."""

    module: str
    attribute: str
    kind: Kind = "replaces"
    keys: tuple[str, ...] = ()
    parameters: tuple[str, ...] | None = None
    reads: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.module}.{self.attribute}"


@dataclass(frozen=True)
class Shim:
    name: str
    patch: Callable[[], None]
    targets: tuple[Target, ...]


def shim(name: str, *targets: Target) -> Callable[[Callable[[], None]], Shim]:
    """Declare a shim: its name (as `apply_shims()` reports it) and the moto targets it needs."""

    def declare(patch: Callable[[], None]) -> Shim:
        return Shim(name, patch, targets)

    return declare


_MISSING = object()
# The instructions by which code reads a name: a global, or an attribute (`module.name`).
_READING_OPS = frozenset({"LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD"})


def _names_read(code: CodeType) -> Iterator[str]:
    # Function bodies only (nested ones included): a module's or class's own body binds names
    # (`from x import parse` loads nothing a call would see), it does not call through them.
    if code.co_flags & inspect.CO_OPTIMIZED:
        for instruction in dis.get_instructions(code):
            if instruction.opname in _READING_OPS:
                yield str(instruction.argval)
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _names_read(constant)


@functools.cache
def _names_read_by_module(module: str) -> frozenset[str]:
    loaded = importlib.import_module(module)
    source = inspect.getsource(loaded)
    code = compile(source, inspect.getfile(loaded), "exec", dont_inherit=True)
    return frozenset(_names_read(code))


def _code_of(value: Any) -> CodeType | None:
    function = value.fget if isinstance(value, property) else value
    code = getattr(function, "__code__", None)
    return code if isinstance(code, CodeType) else None


def _check_property(target: Target, owner: Any, leaf: str, value: Any) -> str | None:
    if isinstance(vars(owner).get(leaf), property):
        return None
    return "is no longer a property defined on its class"


def _check_has(target: Target, owner: Any, leaf: str, value: Any) -> str | None:
    missing = [key for key in target.keys if key not in value]
    return f"has no {', '.join(map(repr, missing))}, which the shim removes" if missing else None


def _check_lacks(target: Target, owner: Any, leaf: str, value: Any) -> str | None:
    present = [key for key in target.keys if key in value]
    if not present:
        return None
    return f"already holds {', '.join(map(repr, present))}: moto may have closed the gap"


def _check_rebinds(target: Target, owner: Any, leaf: str, value: Any) -> str | None:
    for reader in target.readers or (target.module,):
        if (
            reader != target.module
            and getattr(importlib.import_module(reader), leaf, None) is value
        ):
            return f"is imported by name into {reader}, which rebinding it here would not reach"
        if leaf not in _names_read_by_module(reader):
            return f"is read by no code in {reader}: rebinding it would change nothing"
    return None


def _check_routes(target: Target, owner: Any, leaf: str, value: Any) -> str | None:
    handled = {getattr(getattr(h, "__self__", None), "__name__", None) for h in value.values()}
    missing = [key for key in target.keys if key not in handled]
    if not missing:
        return None
    return f"routes no request to {', '.join(missing)}: a method added there would never run"


_KIND_CHECKS: dict[str, Callable[[Target, Any, str, Any], str | None]] = {
    "property": _check_property,
    "has": _check_has,
    "lacks": _check_lacks,
    "rebinds": _check_rebinds,
    "routes": _check_routes,
}


def _check_code(target: Target, value: Any) -> str | None:
    if target.parameters is not None:
        actual = tuple(inspect.signature(value).parameters)
        if actual != target.parameters:
            expected = ", ".join(target.parameters)
            return f"takes ({', '.join(actual)}); the shim was written for ({expected})"
    if not target.reads:
        return None
    code = _code_of(value)
    if code is None:
        return "has no code to inspect"
    read = set(_names_read(code))
    missing = [name for name in target.reads if name not in read]
    return f"no longer reads {', '.join(missing)}, which the shim hooks into" if missing else None


def _lookup(target: Target) -> tuple[Any, str, Any]:
    """The target's owner (module or class), its last name, and its value (or _MISSING)."""
    owner: Any = importlib.import_module(target.module)
    *path, leaf = target.attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, leaf, getattr(owner, leaf, _MISSING)


def target_problem(target: Target) -> str | None:
    """Why `target` does not fit the installed moto, or None when it does."""
    verb = _VERBS[target.kind]
    try:
        owner, leaf, value = _lookup(target)
    except (ImportError, AttributeError) as error:
        return f"cannot be reached ({error}); the shim {verb} it"
    if target.kind == "adds":
        return None if value is _MISSING else "already exists: moto may have closed the gap"
    if value is _MISSING:
        return f"does not exist; the shim {verb} it"
    check = _KIND_CHECKS.get(target.kind)
    try:
        problem = check(target, owner, leaf, value) if check else None
        return problem or _check_code(target, value)
    except (OSError, TypeError, ValueError, AttributeError, ImportError) as error:
        # Whatever moto turned it into, the answer is "does not fit", not a traceback.
        return f"could not be checked ({type(error).__name__}: {error}); the shim {verb} it"


def shim_problems(shims: Iterable[Shim]) -> list[str]:
    """One line per target of `shims` that does not fit the installed moto."""
    return [
        f"shim {one.name}: {target} {problem}"
        for one in shims
        for target in one.targets
        if (problem := target_problem(target)) is not None
    ]


def check_shims(shims: Iterable[Shim]) -> None:
    """Raise ShimError naming every target of `shims` that does not fit the installed moto."""
    problems = shim_problems(shims)
    if problems:
        raise ShimError(
            f"the emulator's shims do not fit moto {installed_moto_version()} "
            f"(stepqueue/local/shims.py):\n"
            + "".join(f"  - {problem}\n" for problem in problems)
            + "Update each shim named to the moto code it patches, or drop it if moto closed its "
            "gap (tests/emulator/local/test_shims.py); nothing was patched."
        )


def _rebind_everywhere(shim_name: str, name: str, original: Any, replacement: Any) -> list[str]:
    """Rebind `name` in every loaded module that holds `original`; the modules rebound.

    Callers import such functions by name, each into its own namespace: rebinding only the
    defining module would reach none of them, so one that reaches no caller is an error."""
    holders = [m for m in list(sys.modules.values()) if getattr(m, name, None) is original]
    if all(module.__name__ == original.__module__ for module in holders):
        raise ShimError(
            f"shim {shim_name} does not fit moto {installed_moto_version()}: rebinding "
            f"{original.__module__}.{name} matched nothing (no loaded module imports it)"
        )
    for module in holders:
        setattr(module, name, replacement)
    return [module.__name__ for module in holders]


_SFN = "moto.stepfunctions.parser"
_SFN_RESPONSES = "moto.stepfunctions.responses"
_STATE_TASK = f"{_SFN}.asl.component.state.exec.state_task"
_JSONATA = f"{_SFN}.asl.jsonata.jsonata"

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


@shim(
    "stepfunctions.ValidateStateMachineDefinition",
    Target(_SFN_RESPONSES, "StepFunctionResponse.validate_state_machine_definition", "adds"),
    Target("moto.stepfunctions.urls", "url_paths", "routes", keys=("StepFunctionResponse",)),
    Target("moto.core.responses", "ActionResult", "uses"),
)
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


@shim(
    "stepfunctions.ListStateMachineVersions",
    Target(_SFN_RESPONSES, "StepFunctionResponse.list_state_machine_versions", "adds"),
    Target("moto.stepfunctions.urls", "url_paths", "routes", keys=("StepFunctionResponse",)),
    Target("moto.core.responses", "ActionResult", "uses"),
)
def _stepfunctions_list_versions() -> None:
    # Gap: moto has no ListStateMachineVersions; the provider lists versions when it reads a
    # state machine. We never publish versions, so an empty list is accurate.
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self: Any) -> ActionResult:
        return ActionResult({"stateMachineVersions": []})

    setattr(StepFunctionResponse, "list_state_machine_versions", list_state_machine_versions)  # noqa: B010


@shim(
    "sqs.RedriveAttributes",
    # Appending to BASE_ATTRIBUTES reaches the reply only while the getter walks it.
    Target("moto.sqs.models", "Queue.attributes", "property", reads=("BASE_ATTRIBUTES",)),
    Target("moto.sqs.models", "Queue.BASE_ATTRIBUTES", "lacks", keys=("RedriveAllowPolicy",)),
    Target("moto.sqs.models", "Queue.redrive_allow_policy", "adds"),
)
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


_SQS_RECEIVE_PARAMETERS = (
    "self",
    "queue_name",
    "count",
    "wait_seconds_timeout",
    "visibility_timeout",
    "message_attribute_names",
)


@shim(
    "sqs.FifoRedeliveryOrder",
    Target(
        "moto.sqs.models",
        "SQSBackend.receive_message",
        parameters=_SQS_RECEIVE_PARAMETERS,
        reads=("pending_messages",),  # the set whose stale entries lock a group
    ),
    Target("moto.sqs.models", "SQSBackend.get_queue", "uses"),
    Target("moto.sqs.models", "Queue.pending_messages", "property"),
    Target("moto.sqs.models", "Message.visible", "property"),
)
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


@shim(
    "sqs.CountsOnlyWhenAsked",
    *(Target("moto.sqs.models", f"Queue.{name}", "property") for name in SQS_COUNT_PROPERTIES),
    *(Target("moto.sqs.models", f"SQSBackend.{name}") for name in SQS_ACTIONS_WITHOUT_COUNTS),
)
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


@shim(
    "server.BackendNamesListedOnce",
    Target(
        "moto.backends",
        "list_of_moto_modules",
        "rebinds",
        parameters=(),
        readers=("moto.moto_server.werkzeug_app",),  # the dispatcher, as backends.list_of_...()
    ),
)
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


@shim(
    "stepfunctions.ContextStartTimeString",
    Target(f"{_SFN}.backend.execution_worker", "ExecutionData", "rebinds"),
    Target(f"{_SFN}.asl.eval.states", "ExecutionData.__annotations__", "has", keys=("StartTime",)),
)
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


@shim(
    "stepfunctions.InProcessServiceClients",
    Target(
        f"{_SFN}.asl.utils.boto_client",
        "boto_client_for",
        parameters=("region", "service", "state_credentials"),
    ),
    # The task services our workflows call (generator/templates): each imports it by name.
    Target(f"{_STATE_TASK}.service.state_task_service_dynamodb", "boto_client_for", "rebinds"),
    Target(f"{_STATE_TASK}.service.state_task_service_sqs", "boto_client_for", "rebinds"),
    Target("moto.core.models", "botocore_stubber.process_request", "uses"),
    Target("moto.core.botocore_stubber", "MockRawResponse", "uses"),
)
def _stepfunctions_in_process_clients() -> None:
    # Cost, not correctness: moto's interpreter builds a new boto3 client for every service call
    # an execution makes (about 3 ms of CPU each, measured) and sends it over HTTP back to this
    # same server (a socket, a server thread, Flask), and a burst's waiting executions make one
    # per acquire retry. In one process under the GIL that time is taken from every other
    # request: at 200 executions it made the emulator, not the workflow, the bottleneck. So the
    # interpreter gets one client per (region, service), whose requests go straight to moto's
    # request dispatcher in this process: the same backends and response handlers (and the
    # DynamoDB lock shim) the HTTP path reaches.
    import pkgutil

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
    _rebind_everywhere(
        "stepfunctions.InProcessServiceClients",
        "boto_client_for",
        boto_client.boto_client_for,
        boto_client_for,
    )


# Parsed definitions kept by the definition cache: a deployment has a handful of state machines
# (and their revisions); the bound only stops a long-running emulator from growing forever.
PARSED_DEFINITIONS_MAX = 64
JSON_PATHS_MAX = 4096


@shim(
    "stepfunctions.DefinitionParseCache",
    Target(
        f"{_SFN}.asl.parse.asl_parser",
        "AmazonStateLanguageParser.parse",
        parameters=("definition",),
    ),
    # The replacement keeps the slot key under the name moto's getter mangles it to.
    Target(
        f"{_SFN}.asl.component.eval_component",
        "EvalComponent.heap_key",
        "property",
        reads=("_EvalComponent__heap_key",),
    ),
    Target(f"{_SFN}.utils", "long_uid", "uses"),
)
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


@shim(
    "stepfunctions.JsonPathCache",
    Target(f"{_SFN}.asl.utils.json_path", "parse", "rebinds"),
    Target(f"{_SFN}.asl.component.common.path.result_path", "parse", "rebinds"),
)
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


@shim(
    "stepfunctions.JSONataEvaluation",
    Target(_JSONATA, "eval_jsonata_expression", parameters=("jsonata_expression",)),
    Target(_JSONATA, "encode_jsonata_variable_declarations", parameters=("bindings",)),
    # The modules that call them, each through its own imported name.
    Target(
        f"{_SFN}.asl.component.common.string.string_expression",
        "eval_jsonata_expression",
        "rebinds",
    ),
    Target(f"{_SFN}.asl.jsonata.validations", "eval_jsonata_expression", "rebinds"),
    Target(f"{_SFN}.asl.eval.states", "encode_jsonata_variable_declarations", "rebinds"),
    Target(f"{_SFN}.asl.eval.variable_store", "encode_jsonata_variable_declarations", "rebinds"),
    Target(_JSONATA, "JSONataException", "uses"),
    Target(f"{_SFN}.asl.utils.encoding", "to_json_str", "uses"),
    Target(
        f"{_SFN}.asl.component.intrinsic.jsonata",
        "_DECLARATION_BY_VARIABLE_REFERENCE",
        "has",
        keys=JSONATA_NATIVE_FUNCTIONS,
    ),
    # _preprocessor_scopes_per_instance: the class-wide stack it gives each instance instead.
    Target(f"{_SFN}.asl.parse.preprocessor", "Preprocessor._query_language_per_scope", "uses"),
    Target(f"{_SFN}.asl.parse.preprocessor", "Preprocessor.__init__"),
)
def _stepfunctions_jsonata() -> None:
    # Gap: moto 5.2.5 parses JSONata states but its evaluator is a stub (it calls None; the real
    # one needs a JVM), so every JSONata expression fails. Also: it binds each string variable as
    # `"text"` without escaping (a quote in a value breaks the expression), and declares $hash
    # and $uuid as functions returning "not supported" (so every generated FIFO deduplication id
    # would be the same string). The shim evaluates with jsonata-rs (chosen by measurement,
    # docs/local-emulator.md), binds values as JSON, and serves $hash and $uuid natively.
    from moto.stepfunctions.parser.asl.component.intrinsic import jsonata as functions
    from moto.stepfunctions.parser.asl.jsonata import jsonata as module
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    def encode(bindings: dict[str, Any]) -> str:
        return "".join(
            f"{name}:={to_json_str(value, separators=(',', ':'))};"
            for name, value in bindings.items()
        )

    evaluate_jsonata.__stepqueue_shim__ = True  # type: ignore[attr-defined]
    name = "stepfunctions.JSONataEvaluation"
    _rebind_everywhere(
        name, "eval_jsonata_expression", module.eval_jsonata_expression, evaluate_jsonata
    )
    _rebind_everywhere(
        name,
        "encode_jsonata_variable_declarations",
        module.encode_jsonata_variable_declarations,
        encode,
    )
    declarations: dict[str, str] = getattr(functions, "_DECLARATION_BY_VARIABLE_REFERENCE")  # noqa: B009
    for native in JSONATA_NATIVE_FUNCTIONS:
        declarations.pop(native, None)
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


# A table's keys named by the running transaction, per table name, while it runs (this thread).
_backing_up = threading.local()


def _transaction_keys(
    backend: Any, transact_items: list[dict[str, Any]], dynamo_type: type
) -> dict[str, set[tuple[Any, Any]]]:
    keys: dict[str, set[tuple[Any, Any]]] = {}
    for entry in transact_items:
        for op in entry.values():
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            named = op.get("Key") or op.get("Item") or {}
            hash_value = named.get(table.hash_key_attr)
            range_value = named.get(table.range_key_attr) if table.range_key_attr else None
            if hash_value is None:
                continue
            ranged = dynamo_type(range_value) if range_value is not None else None
            keys.setdefault(table.name, set()).add((dynamo_type(hash_value), ranged))
    return keys


def _items_backed_up(table: Any, touched: set[tuple[Any, Any]]) -> Any:
    # The same defaultdict, its entries shared, except the touched items: deep copies.
    items = copy.copy(table.items)
    if table.has_range_key:
        for hash_key in items:
            items[hash_key] = dict(items[hash_key])
    for hash_key, range_key in touched:
        if table.has_range_key:
            if range_key in table.items.get(hash_key, {}):
                items[hash_key][range_key] = copy.deepcopy(table.items[hash_key][range_key])
        elif hash_key in table.items:
            items[hash_key] = copy.deepcopy(table.items[hash_key])
    return items


def _deepcopy_table(table: Any, memo: dict[int, Any]) -> Any:
    touched = getattr(_backing_up, "keys", {}).get(table.name)
    clone = copy.copy(table)
    memo[id(table)] = clone
    if touched is None:  # any other copy of a table: moto's, field by field
        for name, value in table.__dict__.items():
            setattr(clone, name, copy.deepcopy(value, memo))
    else:
        clone.items = _items_backed_up(table, touched)
    return clone


@shim(
    "dynamodb.TransactionsBackUpTouchedItems",
    # Its backup is a deepcopy of each table named: what Table.__deepcopy__ takes over.
    Target(
        "moto.dynamodb.models",
        "DynamoDBBackend.transact_write_items",
        parameters=("self", "transact_items"),
        reads=("deepcopy",),
    ),
    Target("moto.dynamodb.models.table", "Table.__deepcopy__", "adds"),
    Target("moto.dynamodb.models.table", "Table.has_range_key", "property"),
    Target("moto.dynamodb.models.dynamo_type", "DynamoType", "uses"),
)
def _dynamodb_transactions_back_up_touched_items() -> None:
    # Cost, not correctness: to roll back a cancelled TransactWriteItems, moto deep-copies the
    # whole table, once per item of the transaction, before applying any of it. A waiting room
    # keeps one item per waiter, so each gatekeeper commit (up to 100 items) copied every
    # waiter up to 100 times: 29% of the emulator's busy time at 400 executions, quadratic in
    # the line's length. Only the items a transaction names can change, so the backup it
    # takes keeps every other item as is (they are not touched until the next request) and
    # deep-copies those items alone; a rollback restores exactly what moto's would.
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    Table.__deepcopy__ = _deepcopy_table  # type: ignore[attr-defined]
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _backing_up.keys = _transaction_keys(self, transact_items, DynamoType)
        try:
            return original(self, transact_items)
        finally:
            _backing_up.keys = {}

    transact_write_items.__stepqueue_backs_up_touched_items__ = True  # type: ignore[attr-defined]
    setattr(DynamoDBBackend, "transact_write_items", transact_write_items)  # noqa: B010


@shim(
    "dynamodb.AtomicItemOperations",
    *(
        Target("moto.dynamodb.responses", f"DynamoHandler.{name}", parameters=("self",))
        for name in DYNAMODB_SERIALISED_OPERATIONS
    ),
)
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


# In the order applied: two shims wrapping one method apply in this order (receive_message:
# FifoRedeliveryOrder inside, CountsOnlyWhenAsked around it).
@shim(
    "lambda.OneMappingPerFunctionAndQueue",
    Target(
        "moto.awslambda.models",
        "LambdaBackend.create_event_source_mapping",
        parameters=("self", "spec"),
        reads=("get_function_by_name_or_arn_with_qualifier",),
    ),
    Target("moto.awslambda.models", "EventSourceMapping", "uses"),
    Target("moto.core.exceptions", "JsonRESTError", "uses"),
)
def _lambda_one_mapping_per_function_and_queue() -> None:
    # Gap: moto looks for an existing mapping under the literal key "func.function_arn", so it
    # never refuses a second mapping of one function to one queue; AWS answers
    # ResourceConflictException. Locally a retried create then left two mappings on a queue,
    # one of them outside Terraform's state, where AWS would have refused the second.
    from moto.awslambda.models import LambdaBackend
    from moto.core.exceptions import JsonRESTError

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        existing = _mapping_of(self, spec)
        if existing is not None:
            raise JsonRESTError(
                "ResourceConflictException",
                f'An event source mapping with SQS arn (" {existing.event_source_arn} ") and '
                f'function (" {existing.function_name} ") already exists. Please update or '
                f"delete the existing mapping with UUID {existing.uuid}",
            )
        return original(self, spec)

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def _mapping_of(backend: Any, spec: dict[str, Any]) -> Any:
    """The mapping that already joins the function and the event source `spec` names, if any
    (an unknown function is left to moto's own answer)."""
    try:
        function = backend._lambdas.get_function_by_name_or_arn_with_qualifier(
            spec.get("FunctionName") or ""
        )
    except Exception:
        return None
    for mapping in backend._event_source_mappings.values():
        if (
            mapping.event_source_arn == spec.get("EventSourceArn")
            and mapping.function_arn == function.function_arn
        ):
            return mapping
    return None


# -- IAM enforcement (Emulator(enforce_iam=True)) ---------------------------------------------
# The emulator's own identity: an IAM user allowed everything, holding the well-known test key
# (what Terraform, the tests' clients and the CLI sign with) and the key moto's Step Functions
# interpreter signs its task calls with. It stands in for AWS itself, as Lambda's service does
# when it assumes a function's role.
SERVICE_USER = "stepqueue-emulator"
SERVICE_ACCOUNT = "123456789012"
SERVICE_USER_ARN = f"arn:aws:iam::{SERVICE_ACCOUNT}:user/{SERVICE_USER}"
# moto.stepfunctions.parser.asl.utils.boto_client and the InProcessServiceClients shim.
INTERPRETER_KEY = ("ak", "sk")
LAMBDA_SERVICE = "lambda.amazonaws.com"
_ALLOW_EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
# Calls AWS authorises with the permission of another action (the IAM reference's "Dependent
# actions"): a batch needs its single action; a DynamoDB transaction needs each item's action.
_SQS_BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def authorised_actions(action: str, body: bytes | str | None) -> list[str]:
    """The IAM actions AWS checks for a call of `action` ("service:Operation") with `body`."""
    if action in _SQS_BATCH_ACTIONS:
        return [_SQS_BATCH_ACTIONS[action]]
    if action not in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
        return [action]
    try:
        items = json.loads(body or b"{}").get("TransactItems") or []
    except (ValueError, AttributeError):
        return [action]  # unreadable: moto refuses the call itself
    needed = {
        _TRANSACTION_ITEM_ACTIONS[kind]
        for item in items
        if isinstance(item, dict)
        for kind in item
        if kind in _TRANSACTION_ITEM_ACTIONS
    }
    return sorted(needed) or [action]


@shim(
    "iam.EnforcedWithServiceIdentity",
    Target(
        "moto.settings",
        "INITIAL_NO_AUTH_ACTION_COUNT",
        "rebinds",
        readers=("moto.core.authorization",),
    ),
    Target("moto.iam.models", "iam_backends", "uses"),
    Target("moto.iam.models", "IAMBackend.create_user", "uses"),
    Target("moto.iam.models", "IAMBackend.put_user_policy", "uses"),
    Target("moto.iam.models", "IAMBackend.create_access_key", "uses"),
    Target(
        "moto.iam.access_control", "IAMUserAccessKey.__init__", reads=("access_keys",), kind="uses"
    ),
)
def _iam_enforced() -> None:
    # Not a gap: the switch. moto authorises every request after the first
    # INITIAL_NO_AUTH_ACTION_COUNT (default: never); from here on, every request is signed-checked
    # and authorised. Keys are looked up among IAM users' keys and STS sessions, so first the
    # emulator's own identity is made to hold the keys everything else signs with.
    from moto import settings
    from moto.iam.models import iam_backends

    backend = iam_backends[SERVICE_ACCOUNT]["aws"]
    backend.create_user(region_name="us-east-1", user_name=SERVICE_USER)
    backend.put_user_policy(SERVICE_USER, "everything", _ALLOW_EVERYTHING)
    from stepqueue.local.emulator import ACCESS_KEY, SECRET_KEY

    for key_id, secret in ((ACCESS_KEY, SECRET_KEY), INTERPRETER_KEY):
        key = backend.create_access_key(SERVICE_USER)
        del backend.access_keys[key.access_key_id]
        key.access_key_id, key.secret_access_key = key_id, secret
        backend.access_keys[key_id] = key
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


@shim(
    "iam.ServicePrincipalTrust",
    Target(
        "moto.iam.access_control",
        "IAMPolicyStatement._check_principal",
        parameters=("self", "principal"),
    ),
)
def _iam_service_principal_trust() -> None:
    # Gap: a trust policy whose Principal names no "AWS" key (a service: {"Service":
    # "lambda.amazonaws.com"}, every Lambda's and state machine's role) makes AssumeRole fail
    # with a 500 (`principal in None`). Here a role trusting Lambda's service trusts the
    # emulator's identity, which the local runner assumes a function's role with, standing in
    # for Lambda; any other caller, or another service's role, is refused, as on AWS.
    from moto.iam.access_control import IAMPolicyStatement

    def _check_principal(self: Any, principal: str) -> bool:
        expected = self._statement.get("Principal")
        if not expected or expected == "*":
            return True
        if "Service" in expected and principal == SERVICE_USER_ARN:
            services = expected["Service"]
            return LAMBDA_SERVICE in ([services] if isinstance(services, str) else services)
        trusted = expected.get("AWS")
        if trusted is None:
            return False
        return bool(trusted == "*" or principal == trusted or principal in trusted)

    IAMPolicyStatement._check_principal = _check_principal  # type: ignore[method-assign]


@shim(
    "iam.UnknownResourceMatchesAnyStatement",
    Target(
        "moto.iam.access_control",
        "IAMPolicyStatement._check_element_matches",
        parameters=("self", "statement_element", "value"),
    ),
    Target(
        "moto.iam.access_control",
        "IAMPolicyStatement.is_action_permitted",
        reads=("_check_element_matches",),
        kind="uses",
    ),
)
def _iam_unknown_resource() -> None:
    # Gap: only SQS, S3, IAM and STS tell moto which resource a call touches; for every other
    # service (DynamoDB, Step Functions, Lambda, ...) the resource is "*", which a statement
    # naming an ARN never matches, so every resource-scoped Allow (all of ours) refused. Here an
    # unknown resource matches any statement's Resource: those services are authorised on the
    # action alone (a resource-scoped Deny then denies the action everywhere).
    from moto.iam.access_control import IAMPolicyStatement

    original = IAMPolicyStatement._check_element_matches

    def _check_element_matches(self: Any, statement_element: Any, value: str) -> bool:
        if statement_element == "Resource" and value == "*":
            return True
        return bool(original(self, statement_element, value))

    IAMPolicyStatement._check_element_matches = _check_element_matches  # type: ignore[method-assign]


@shim(
    "iam.SignaturesNotChecked",
    Target(
        "moto.iam.access_control",
        "IAMRequestBase.check_signature",
        parameters=("self",),
    ),
    Target(
        "moto.core.authorization",
        "ActionAuthenticatorMixin._authenticate_and_authorize_action",
        reads=("check_signature", "check_action_permitted"),
        kind="uses",
    ),
)
def _iam_signatures_not_checked() -> None:
    # Gap: moto recomputes each request's SigV4 signature from the request as it re-parsed it,
    # which differs from what botocore signed for some REST APIs: Lambda's
    # ListEventSourceMappings with the right key and secret answered SignatureDoesNotMatch
    # (measured). The signature is not what is tested here; the key (an IAM user's, or an STS
    # session's with its token) still decides who calls, and its policies what it may do.
    from moto.iam.access_control import IAMRequestBase

    def check_signature(self: Any) -> None:
        return None

    IAMRequestBase.check_signature = check_signature  # type: ignore[method-assign]


@shim(
    "iam.JsonAccessDenied",
    Target(
        "moto.core.authorization",
        "ActionAuthenticatorMixin._authenticate_and_authorize_normal_action",
        parameters=("self", "resource"),
    ),
    Target("moto.core.responses", "BaseResponse.call_action", reads=("description",), kind="uses"),
    Target("moto.core.exceptions", "AccessDeniedError", "uses"),
    Target("moto.core.exceptions", "InvalidClientTokenIdError", "uses"),
    Target("moto.core.exceptions", "JsonRESTError", "uses"),
    Target("moto.core.utils", "get_service_model", "uses"),
)
def _iam_json_access_denied() -> None:
    # Gap: moto answers a refused call in the query protocol's XML for every service, so a JSON
    # service's client (DynamoDB, Step Functions, Lambda, SQS, ...) cannot parse it and reports
    # the error code "403". AWS answers AccessDeniedException (SQS: AccessDenied), and
    # UnrecognizedClientException (SQS: InvalidClientTokenId) for an unknown key: the codes the
    # functions' error handling tells a permanent refusal from a transient fault by.
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError, InvalidClientTokenIdError, JsonRESTError
    from moto.core.utils import get_service_model

    original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        try:
            original(self, resource)
        except (AccessDeniedError, InvalidClientTokenIdError) as refused:
            service = str(self.boto3_service_name)
            if get_service_model(service).protocol not in ("json", "rest-json"):
                raise
            unknown_key = isinstance(refused, InvalidClientTokenIdError)
            if service == "sqs":
                code = "InvalidClientTokenId" if unknown_key else "AccessDenied"
            else:
                code = "UnrecognizedClientException" if unknown_key else "AccessDeniedException"
            error = JsonRESTError(code, refused.message)
            error.code = 403
            raise error from None

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = (  # type: ignore[method-assign]
        _authenticate_and_authorize_normal_action
    )


@shim(
    "iam.DependentActions",
    Target(
        "moto.iam.access_control",
        "IAMRequestBase.check_action_permitted",
        parameters=("self", "resource"),
        reads=("_action",),
    ),
)
def _iam_dependent_actions() -> None:
    # Gap: moto authorises a call as "service:Operation", but AWS authorises SQS batch calls with
    # the single action's permission (sqs:DeleteMessage for DeleteMessageBatch) and a DynamoDB
    # transaction with each item's (PutItem, DeleteItem, ...): there is no IAM action
    # dynamodb:TransactWriteItems. Without this, every batch delete and every gatekeeper commit
    # was refused to roles that AWS allows.
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        called = self._action
        try:
            for action in authorised_actions(called, self._body):
                self._action = action
                original(self, resource)
        finally:
            self._action = called

    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]


SHIMS: tuple[Shim, ...] = (
    _stepfunctions_validate_definition,
    _stepfunctions_list_versions,
    _stepfunctions_start_time_string,
    _sqs_redrive_attributes,
    _sqs_fifo_redelivery_order,
    _sqs_counts_only_when_asked,
    _server_backend_names_listed_once,
    _stepfunctions_in_process_clients,
    _stepfunctions_parse_cache,
    _stepfunctions_json_path_cache,
    _stepfunctions_jsonata,
    _lambda_one_mapping_per_function_and_queue,
)
# Without atomicity the emulator's DynamoDB is moto's as shipped, slow transactions included:
# that mode exists to show the races moto allows (tests/semaphore), and a faster transaction
# narrows the window they need.
ATOMIC_DYNAMODB_SHIMS: tuple[Shim, ...] = (
    _dynamodb_atomic,
    _dynamodb_transactions_back_up_touched_items,
)
# Emulator(enforce_iam=True): the gaps first, the switch last (no request is authorised before).
IAM_SHIMS: tuple[Shim, ...] = (
    _iam_service_principal_trust,
    _iam_unknown_resource,
    _iam_signatures_not_checked,
    _iam_json_access_denied,
    _iam_dependent_actions,
    _iam_enforced,
)


def apply_shims(*, atomic_dynamodb: bool, enforce_iam: bool = False) -> list[str]:
    """Patch moto in this process; returns the names of the shims now active.

    Raises ShimError, having patched nothing, when the installed moto is not `MOTO_VERSION` or
    a target of a shim not yet applied does not fit it. Idempotent: a second call must not wrap
    a wrapper (a double lock would still work, but a doubled RedrivePolicy rewrite would hide
    bugs), and an applied shim's targets are its own patches, no longer moto's."""
    check_moto_version()
    chosen = (
        SHIMS
        + (ATOMIC_DYNAMODB_SHIMS if atomic_dynamodb else ())
        + (IAM_SHIMS if enforce_iam else ())
    )
    with _apply_lock:
        pending = [one for one in chosen if one.name not in _applied]
        check_shims(pending)
        for one in pending:
            one.patch()
            _applied.add(one.name)
        return sorted(_applied)
