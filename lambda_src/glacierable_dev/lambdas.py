"""Run the real Lambda handlers in this process, as Lambda would run them, against the embedded endpoint.

Each handler gets its function's environment, a Lambda context, and the very event JSON Lambda delivers: an
S3 notification for the tagger, the restore request for the restore function, SQS records for the workers.
Their JSON log lines and metrics are captured instead of printed, so the demo can show what they did.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from glacierable.handlers.lazy import LazyClient
from glacierable_dev.emulator import FAKE_CREDENTIALS

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

NAMESPACE = "Glacierable"
ACCOUNT = "123456789012"
TAGGER = "glacierable.handlers.tagger"
RESTORE = "glacierable.handlers.restore"
WORKER = "glacierable.handlers.restore_worker"
SQS_BATCH_SIZE = 10
"""Records per worker invocation, as the stack's SQS event source delivers them."""


@contextmanager
def patched_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the block, then put everything back."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def offline_environ(endpoint_url: str) -> dict[str, str | None]:
    """Fake credentials and the embedded endpoint for every AWS client; never the operator's profile."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ENDPOINT_URL_S3": None,
        "AWS_PROFILE": None,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context that Powertools reads (for the demo, tests and bench)."""

    function_name: str = "glacierable-tagger"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 15 * 60 * 1000
    """What get_remaining_time_in_millis answers: fixed, so no test depends on the clock."""

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{self.function_name}"


@dataclass(frozen=True, slots=True)
class Invocation:
    """One handler call: its return value or exception, and the JSON log lines it wrote."""

    result: Any
    error: Exception | None
    log: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Message:
    """One SQS message, as received."""

    message_id: str
    receipt_handle: str
    body: str

    def as_record(self, queue_arn: str) -> dict[str, Any]:
        """The record of an SQS event, as Lambda's SQS event source builds it."""
        return {
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": self.body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": "us-east-1",
        }


def receive_all(client: SQSClient, queue_url: str) -> list[Message]:
    """Every message now visible in the queue (received, not yet deleted)."""
    messages: list[Message] = []
    while True:
        batch = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return messages
        messages += [Message(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in batch]


def delete(client: SQSClient, queue_url: str, messages: list[Message]) -> None:
    """Delete handled messages (what Lambda's event source does after a successful invocation)."""
    for message in messages:
        client.delete_message(QueueUrl=queue_url, ReceiptHandle=message.receipt_handle)


class LocalLambdas:
    """The tagger, restore and worker handlers, configured as the stack configures them, in this process.

    Lambda builds each client from its function's environment; here each is built from the environment
    patched on entry (the embedded endpoint) on first use, and on exit the handler gets back what it had, so
    nothing leaks into the rest of the process.
    """

    def __init__(self, *, endpoint_url: str, bucket: str, prefix: str, restore_queue_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.environ: dict[str, str | None] = {
            **offline_environ(endpoint_url),
            "POWERTOOLS_SERVICE_NAME": "glacierable",
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "ARCHIVE_UNKNOWN": "false",
            "BUCKET": bucket,
            "PREFIX": prefix,
            "RESTORE_QUEUE_URL": restore_queue_url,
            "CONCURRENCY": "16",
        }
        self._modules: dict[str, ModuleType] = {}
        self._clients = ExitStack()
        self._log = io.StringIO()
        self._streams: list[tuple[Any, Any]] = []
        self._environ_context: Any = None

    def __enter__(self) -> LocalLambdas:
        self._environ_context = patched_environ(self.environ)
        self._environ_context.__enter__()
        try:
            for name in (TAGGER, RESTORE, WORKER):
                self._modules[name] = module = import_module(name)
                if module.metrics.namespace is None:  # imported earlier, before the namespace was set
                    module.metrics.namespace = NAMESPACE
                handler = module.logger.registered_handler
                if all(handler is not seen for seen, _ in self._streams):
                    self._streams.append((handler, _swap_stream(handler, self._log)))
                for client in vars(module).values():
                    if isinstance(client, LazyClient):
                        self._clients.enter_context(client.use())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._clients.close()
        for handler, stream in self._streams:
            _swap_stream(handler, stream)
        self._streams.clear()
        if self._environ_context is not None:
            self._environ_context.__exit__(None, None, None)
            self._environ_context = None

    def invoke(self, module_name: str, event: Any, function_name: str) -> Invocation:
        """Call the module's handler with `event`; capture its logs and metrics output."""
        handler: Callable[[Any, Any], Any] = self._modules[module_name].handler
        start = self._log.tell()
        result: Any = None
        error: Exception | None = None
        with redirect_stdout(io.StringIO()):  # the metrics (EMF) blobs Lambda would print
            try:
                result = handler(event, FakeLambdaContext(function_name))
            except Exception as exc:  # Lambda reports it as a function error; the demo shows it
                error = exc
        self._log.seek(start)
        lines = [json.loads(line) for line in self._log.read().splitlines() if line.startswith("{")]
        self._log.seek(0, io.SEEK_END)
        return Invocation(result, error, lines)

    def tagger(self, event: Any) -> Invocation:
        """Invoke the tagger with one S3 notification."""
        return self.invoke(TAGGER, event, "glacierable-tagger")

    def restore(self, request: Mapping[str, Any]) -> Invocation:
        """Invoke the restore function with a restore request."""
        return self.invoke(RESTORE, dict(request), "glacierable-restore")

    def worker(self, records: list[dict[str, Any]]) -> Invocation:
        """Invoke a restore worker with SQS records."""
        return self.invoke(WORKER, {"Records": records}, "glacierable-restore-worker")


def _swap_stream(handler: logging.StreamHandler[Any], stream: Any) -> Any:
    """Point `handler` at `stream`; the old one back. Unlike setStream, never flushes the old stream: a
    test's captured stream may be closed by now, and nothing of it is wanted any more."""
    handler.acquire()
    try:
        previous, handler.stream = handler.stream, stream
    finally:
        handler.release()
    return previous
