"""Told when it is ready: the restore Lambda, its workers and the ready checker against moto S3, SQS and SNS
(the topic subscribed to a queue, as an email subscription would be), with the real handlers.

SQS honours DelaySeconds in wall-clock time; the checks' delays are recorded and zeroed as they are sent,
so a test drains the check queue at once and asserts each delay instead of waiting it out. The checker's
`now` is set per call: nothing here reads the wall clock.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from glacierable.clients import s3_client
from glacierable.handlers import restore_ready
from glacierable.ready import MAX_DELAY, MIN_INTERVAL, ReadyCheck
from glacierable.restore_request import RestoreRequest
from glacierable.restore_summary import NO_NOTIFICATION, RestoreSummary
from glacierable_cli import selection
from glacierable_dev.lambdas import FakeLambdaContext
from tests.integration.conftest import Cli
from tests.integration.test_restore import (
    Backup,
    count_operations,
    hold_restores_in_progress,
    list_restore_states_like_aws,
)
from tests.integration.test_restore_cli import FakeLambda, use_lambda
from tests.integration.test_restore_handlers import NAMESPACE, Queue, backup, queue, restore, worker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from glacierable_dev.emulator import MotoServer

__all__ = ["backup", "queue", "restore", "worker"]  # the fixtures this module uses from the handlers' tests


@dataclass
class Notifications:
    """An SNS topic whose messages land on an SQS queue (moto delivers SNS → SQS itself)."""

    topic_arn: str
    inbox: Queue

    def received(self) -> list[tuple[str, str]]:
        """(Subject, Message) of every notification delivered since the last call."""
        envelopes = [json.loads(record["body"]) for record in self.inbox.drain()]
        return [(envelope.get("Subject", ""), envelope["Message"]) for envelope in envelopes]


@pytest.fixture
def notifications(endpoint_url: str) -> Notifications:
    sns = boto3.client("sns", endpoint_url=endpoint_url)
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    name = uuid.uuid4().hex[:12]
    topic_arn = sns.create_topic(Name=f"notify-{name}")["TopicArn"]
    inbox_url = sqs.create_queue(QueueName=f"inbox-{name}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
    return Notifications(topic_arn, Queue(sqs, inbox_url))


@dataclass
class Checks:
    """The check queue: each message's DelaySeconds recorded as sent (and zeroed, see the module doc)."""

    queue: Queue
    delays: list[int] = field(default_factory=list)

    def watch(self, client: Any) -> None:
        def record(params: dict[str, Any], **_: Any) -> None:
            if params.get("QueueUrl") == self.queue.url:
                self.delays.append(int(params.get("DelaySeconds", 0)))
                params["DelaySeconds"] = 0

        client.meta.events.register("provide-client-params.sqs.SendMessage", record)

    def take(self) -> list[dict[str, Any]]:
        """The queued checks as SQS-event records (deleted from the queue)."""
        return self.queue.drain()


@pytest.fixture
def checks(endpoint_url: str, queue: Queue) -> Checks:
    url = queue.client.create_queue(QueueName=f"ready-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    found = Checks(Queue(queue.client, url))
    found.watch(queue.client)  # the client every handler here sends with
    return found


@pytest.fixture
def listing(endpoint_url: str, s3: S3Client) -> S3Client:
    """The checker's S3 client: its listings report restore states, as AWS's do (moto's own, from `s3`)."""
    client = s3_client(endpoint_url=endpoint_url)
    list_restore_states_like_aws(client, s3)
    return client


Checker = Callable[[list[dict[str, Any]], int], dict[str, Any]]


@pytest.fixture
def checker(
    monkeypatch: pytest.MonkeyPatch,
    bucket: str,
    listing: S3Client,
    queue: Queue,
    checks: Checks,
    notifications: Notifications,
) -> Iterator[Checker]:
    monkeypatch.setenv("BUCKET", bucket)
    monkeypatch.setenv("PREFIX", "backups/")
    monkeypatch.setenv("READY_QUEUE_URL", checks.queue.url)
    monkeypatch.setenv("NOTIFY_TOPIC_ARN", notifications.topic_arn)
    monkeypatch.setattr(restore_ready.metrics, "namespace", NAMESPACE)
    sns = boto3.client("sns", endpoint_url=queue.client.meta.endpoint_url)

    def check(records: list[dict[str, Any]], now: int) -> dict[str, Any]:
        monkeypatch.setattr(restore_ready, "clock", lambda: now)
        return dict(restore_ready.handler({"Records": records}, FakeLambdaContext("glacierable-ready")))

    with restore_ready.s3.use(listing), restore_ready.sqs.use(queue.client), restore_ready.sns.use(sns):
        yield check


@pytest.fixture
def notifying(monkeypatch: pytest.MonkeyPatch, checks: Checks, notifications: Notifications) -> None:
    """The restore Lambda deployed with a topic: it queues a ready check with each restore."""
    monkeypatch.setenv("READY_QUEUE_URL", checks.queue.url)
    monkeypatch.setenv("NOTIFY_TOPIC_ARN", notifications.topic_arn)


def first_check(checks: Checks) -> tuple[ReadyCheck, list[dict[str, Any]]]:
    records = checks.take()
    (record,) = records
    return ReadyCheck.from_body(record["body"]), records


# --- the restore Lambda queues the check ------------------------------------------------------------


@pytest.mark.usefixtures("notifying")
def test_a_queued_restore_queues_one_check_and_says_where_the_message_comes(
    restore: Any, checks: Checks, notifications: Notifications, backup: Backup
) -> None:
    answer = RestoreSummary.from_json(restore({"prefix": "backups/host1", "tier": "bulk"}))
    check, _ = first_check(checks)
    assert answer.notify == notifications.topic_arn and answer.notifies
    assert (check.restore_id, check.restore_time) == (answer.restore_id, answer.restore_time)
    assert checks.delays == [MIN_INTERVAL]
    # Bulk from GLACIER takes up to 12 hours: late after that, and checked as long again.
    assert (check.late_at - check.requested_at, check.give_up_at - check.late_at) == (12 * 3600, 12 * 3600)


@pytest.mark.usefixtures("notifying")
def test_a_dry_run_queues_no_check(restore: Any, checks: Checks, backup: Backup) -> None:
    answer = restore({"prefix": "backups/host1", "dry_run": True})
    assert checks.take() == [] and "notify" not in answer


def test_without_a_topic_no_check_is_queued_and_the_answer_says_so(
    restore: Any, checks: Checks, backup: Backup
) -> None:
    answer = RestoreSummary.from_json(restore({"prefix": "backups/host1"}))
    assert checks.take() == []
    assert answer.notify == NO_NOTIFICATION and not answer.notifies


# --- the checker ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("notifying")
def test_a_check_not_yet_due_is_only_sent_again(
    restore: Any,
    checker: Checker,
    checks: Checks,
    notifications: Notifications,
    listing: S3Client,
    backup: Backup,
) -> None:
    restore({"prefix": "backups/host1"})
    check, records = first_check(checks)
    calls = count_operations(listing)
    checker(records, check.requested_at + 10)
    again, _ = first_check(checks)
    assert again == check and checks.delays[-1] == MIN_INTERVAL - 10
    assert calls == Counter() and notifications.received() == []


@pytest.mark.usefixtures("notifying")
def test_not_yet_readable_is_checked_again_later_and_nothing_is_published(
    restore: Any,
    worker: Any,
    queue: Queue,
    checker: Checker,
    checks: Checks,
    notifications: Notifications,
    keep_ongoing: Callable[[int], None],
    moto_server: MotoServer,
    s3: S3Client,
    bucket: str,
    backup: Backup,
) -> None:
    keep_ongoing(1)  # reset after the test by this fixture
    restore({"prefix": "backups/host1"})
    worker(queue.drain())
    hold_restores_in_progress(moto_server, s3, bucket, backup.new_chain)
    check, records = first_check(checks)
    now = check.requested_at + 3600
    assert checker(records, now) == {"batchItemFailures": []}
    again, _ = first_check(checks)
    assert (again.checks, again.late_reported) == (1, False)
    assert again.next_check_at == now + 3600 // 8 and checks.delays[-1] == 3600 // 8
    assert notifications.received() == []


@pytest.mark.usefixtures("notifying")
def test_all_readable_publishes_one_message_with_the_clis_duplicity_command(
    restore: Any,
    worker: Any,
    queue: Queue,
    checker: Checker,
    checks: Checks,
    notifications: Notifications,
    bucket: str,
    backup: Backup,
) -> None:
    answer = restore({"prefix": "backups/host1", "days": 3})
    worker(queue.drain())  # moto restores at once
    check, records = first_check(checks)
    checker(records, check.next_check_at)
    ((subject, text),) = notifications.received()
    assert checks.take() == [], "a ready restore is not checked again"
    cli_args = argparse.Namespace(bucket=bucket, endpoint_url=None, target=None)
    command = selection.duplicity_command_for(
        cli_args, check.request, answer["restore_time"], par2=answer["par2"]
    )
    assert subject == f"glacierable: restore {answer['restore_id']} is ready"
    assert f"Restore {answer['restore_id']} is ready: all 3 object(s)" in text
    assert f"\n  {command}" in text and command.startswith("duplicity restore -t ")
    assert "The first restored copies expire at " in text and "copies kept 3 day(s)" in text


@pytest.mark.usefixtures("notifying")
def test_past_the_tiers_longest_time_one_late_message_then_a_last_one(
    restore: Any, checker: Checker, checks: Checks, notifications: Notifications, backup: Backup
) -> None:
    answer = restore({"prefix": "backups/host1"})  # no worker: nothing is ever restored
    check, records = first_check(checks)
    assert check.late_at - check.requested_at == 5 * 3600  # Standard from GLACIER: 3-5 hours

    checker(records, check.late_at)
    ((subject, text),) = notifications.received()
    assert subject == f"glacierable: restore {answer['restore_id']} is late"
    assert "3 of 3 object(s)" in text and "3 archived with no restore" in text
    late, records = first_check(checks)
    assert late.late_reported and checks.delays[-1] == min(MAX_DELAY, late.next_check_at - check.late_at)

    checker(records, late.next_check_at)
    assert notifications.received() == [], "late is said once"
    later, records = first_check(checks)

    checker(records, later.give_up_at)
    ((subject, text),) = notifications.received()
    assert subject.endswith("is still not ready: stopped checking")
    assert "Checking has stopped" in text
    assert checks.take() == []


def test_a_check_for_another_bucket_is_refused(
    checker: Checker, checks: Checks, notifications: Notifications, backup: Backup
) -> None:
    other = ReadyCheck.first(
        "r-1",
        "someone-elses",
        RestoreRequest(folder="backups/host1/"),
        restore_time=0,
        now=0,
        longest_hours=5,
    )
    record = {"messageId": "m1", "body": other.to_body(), "eventSource": "aws:sqs"}
    assert checker([record], 100) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert checks.take() == [] and notifications.received() == []


# --- what the CLI says ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("notifying")
def test_restore_through_the_function_says_a_message_will_come(
    cli: Cli,
    restore: Any,
    notifications: Notifications,
    monkeypatch: pytest.MonkeyPatch,
    backup: Backup,
) -> None:
    use_lambda(monkeypatch, FakeLambda(lambda payload: (restore(payload), None)))
    result = cli("restore", "--function", "fn", "--prefix", "backups/host1")
    assert result.code == 0, result.err
    text = " ".join(result.out.split())  # the renderer wraps long lines
    assert f"a message on {notifications.topic_arn} will say when everything is readable" in text
    assert "you may close this terminal" in text
    # The handler's own log lines share stdout here, as JSON too: pick the CLI's record.
    records = cli("restore", "--function", "fn", "--prefix", "backups/host1", "--json").records()
    (answer,) = [record for record in records if record.get("record") == "restore"]
    assert answer["notify"] == notifications.topic_arn


def test_restore_through_a_function_without_a_topic_says_no_message_will_come(
    cli: Cli, restore: Any, monkeypatch: pytest.MonkeyPatch, backup: Backup
) -> None:
    use_lambda(monkeypatch, FakeLambda(lambda payload: (restore(payload), None)))
    result = cli("restore", "--function", "fn", "--prefix", "backups/host1")
    assert "no message will say when it is ready" in " ".join(result.out.split())


def test_local_restore_says_nothing_of_a_message(cli: Cli, backup: Backup) -> None:
    result = cli.selection("restore")
    assert result.code == 0, result.err
    assert "message" not in result.out and "notify" not in cli.selection("restore", "--json").json()


def test_a_check_that_cannot_be_queued_leaves_the_restore_queued_and_says_no_message_will_come(
    restore: Any, queue: Queue, monkeypatch: pytest.MonkeyPatch, notifications: Notifications, backup: Backup
) -> None:
    missing = queue.url.rsplit("/", 1)[0] + "/no-such-queue"
    monkeypatch.setenv("READY_QUEUE_URL", missing)
    monkeypatch.setenv("NOTIFY_TOPIC_ARN", notifications.topic_arn)
    answer = RestoreSummary.from_json(restore({"prefix": "backups/host1"}))
    assert answer.queued == 3 and answer.notify == NO_NOTIFICATION
    assert any(w.startswith("no message will say when this restore is ready") for w in answer.warnings)
