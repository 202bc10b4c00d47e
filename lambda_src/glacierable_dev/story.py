"""The demo's story, step by step: real duplicity backups on an embedded S3, tagged, archived, and restored.

Every step calls the code the product runs: the tagger, restore and worker Lambda handlers with the events
Lambda would deliver, `glacierable lifecycle apply`'s merge, and `glacierable plan | restore --wait`. Only
S3 itself is emulated (a moto server), and the lifecycle transition, which the emulator never performs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from glacierable import TAG_KEY
from glacierable.classify import classify
from glacierable.clients import s3_client
from glacierable.duplicity_command import duplicity_command
from glacierable.lifecycle_store import apply_rules, read_config
from glacierable.names import format_time
from glacierable.object_status import StatusReport, load_plan
from glacierable.prefixes import duplicity_url
from glacierable.prefixes import folder as folder_of
from glacierable.pricing import PRICES_DATE, PRICES_REGION
from glacierable.restore_flow import Poll, RestorePoint, wait_until_readable
from glacierable.restore_request import RestoreRequest
from glacierable_dev.duplicity_runner import DuplicityError, DuplicityRunner, error_lines
from glacierable_dev.emulator import MotoServer
from glacierable_dev.lambdas import LocalLambdas, delete, offline_environ, patched_environ, receive_all
from glacierable_dev.report import (
    Printer,
    Timings,
    money,
    monthly_storage_cost,
    size_text,
    table,
)
from glacierable_dev.source_tree import Changes, SourceTree, compare, hash_tree, total_bytes
from glacierable_dev.transition import StoredObject, decide, earliest_moment_all_due

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

DAY = 86400
RestoreHook = Callable[[str, Path], None]
"""Called with a restore's label and folder after duplicity restored it, before it is verified."""


@dataclass(frozen=True)
class StoryOptions:
    """What the demo backs up and how."""

    files: int = 12
    volsize: int = 1
    """duplicity's --volsize in MB: small, so every backup has several volumes."""
    workdir: Path | None = None
    """Where the source, caches and restores go (kept); None: a temporary folder, removed at the end."""
    bucket: str = "glacierable-demo"
    folder: str = "backups/host1"
    rule_prefix: str = "backups/"
    passphrase: str = "glacierable-demo-passphrase"
    storage_class: str = "GLACIER"
    days: int = 1
    poll_interval: float = 0.5
    ongoing_reads: int = 3
    """Status reads each restore stays "in progress" for in the emulator."""

    def __post_init__(self) -> None:
        if self.files < 3:
            raise ValueError(f"files must be at least 3, got {self.files}")
        if not 1 <= self.volsize <= 1000:
            raise ValueError(f"volsize must be from 1 to 1000 MB, got {self.volsize}")


@dataclass
class StoryResult:
    """How the story ended: exit code 0 only if every restore equals its source, file by file."""

    exit_code: int
    endpoint_url: str
    bucket: str
    folder: str
    problems: list[str] = field(default_factory=list)
    mismatches: dict[str, list[str]] = field(default_factory=dict)
    timings: Timings = field(default_factory=Timings)


class StoryFailed(RuntimeError):
    """A step went wrong in a way that makes the rest of the story meaningless."""


@dataclass
class _Backup:
    label: str
    at: int
    changes: Changes
    snapshot: dict[str, str]
    source_bytes: int
    new_keys: list[str]
    seconds: float


def run_story(
    options: StoryOptions | None = None,
    *,
    server: MotoServer | None = None,
    out: TextIO | None = None,
    after_restore: RestoreHook | None = None,
) -> StoryResult:
    """Tell the whole story; a given `server` is started if needed and left running, else one is made."""
    options = options or StoryOptions()
    stream = out if out is not None else sys.stdout
    with ExitStack() as stack:
        if options.workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="glacierable-demo-"))
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        else:
            workdir = options.workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
            if any(workdir.iterdir()):
                raise ValueError(f"workdir {workdir} is not empty")
        if server is None:
            server = MotoServer()
            stack.callback(server.stop)
        story = _Story(options, server, workdir, Printer(stream), after_restore)
        return story.run()
    raise AssertionError("unreachable")  # pragma: no cover  (ExitStack does not swallow exceptions)


class _Story:
    def __init__(
        self,
        options: StoryOptions,
        server: MotoServer,
        workdir: Path,
        printer: Printer,
        after_restore: RestoreHook | None,
    ) -> None:
        self.options = options
        self.server = server
        self.workdir = workdir
        self.p = printer
        self.after_restore = after_restore
        self.timings = Timings()
        self.folder = folder_of(options.folder)
        self.url = duplicity_url(options.bucket, options.folder)
        self.backups: list[_Backup] = []
        self.problems: list[str] = []
        self.mismatches: dict[str, list[str]] = {}
        self.cost_before = 0.0
        self.cost_after = 0.0
        self.now = int(time.time())
        # Daily backups over the last three days, on the hour: full, then two incrementals.
        first = self.now // 3600 * 3600 - 3 * DAY
        self.times = [first, first + DAY, first + 2 * DAY]
        self.middle_time = self.times[1] + 3600

    # --- plumbing ----------------------------------------------------------------------------------

    def run(self) -> StoryResult:
        started = time.monotonic()
        self.p.say(
            "glacierable demo: duplicity backups in S3 at Glacier prices, and a chain-aware restore. "
            "S3 is emulated by a moto server on 127.0.0.1; duplicity, gpg and glacierable's Lambda "
            "handlers and CLI are the real ones.",
            indent=0,
        )
        try:
            with self.timings.measure("1. embedded S3, lifecycle rule, notifications"):
                self.start_endpoint()
            with patched_environ(offline_environ(self.server.url)), self._lambdas() as lambdas:
                self.lambdas = lambdas
                self.steps()
        except (StoryFailed, DuplicityError) as error:
            # The steps after a failed one would only fail again: report it and end.
            self.problems.append(str(error))
        elapsed = time.monotonic() - started
        ok = not self.problems and not self.mismatches
        self.finish(ok, elapsed)
        return StoryResult(
            exit_code=0 if ok else 1,
            endpoint_url=self.server.url,
            bucket=self.options.bucket,
            folder=self.folder,
            problems=self.problems,
            mismatches=self.mismatches,
            timings=self.timings,
        )

    def _lambdas(self) -> LocalLambdas:
        return LocalLambdas(
            endpoint_url=self.server.url,
            bucket=self.options.bucket,
            prefix=self.options.rule_prefix,
            restore_queue_url=self.restore_queue,
        )

    def steps(self) -> None:
        with self.timings.measure("2. three duplicity backups"):
            self.back_up()
        with self.timings.measure("3. tagger Lambda on each S3 event"):
            self.tag()
        with self.timings.measure("4. lifecycle transition, collection-status"):
            self.transition()
        with self.timings.measure("5. plain duplicity restore (fails)"):
            self.plain_restore_fails()
        with self.timings.measure("6. restore fan-out and wait"):
            self.fan_out()
        with self.timings.measure("7. duplicity restore and verify"):
            self.restore_and_verify()

    def duplicity(self) -> DuplicityRunner:
        return DuplicityRunner.in_folder(
            self.workdir, endpoint_url=self.server.url, passphrase=self.options.passphrase
        )

    def fresh_archive_dir(self, label: str) -> Path:
        """An empty duplicity cache: as on a new machine, everything is read from S3."""
        path = self.workdir / f"cache-{label}"
        path.mkdir()
        return path

    def list_folder(self) -> list[dict[str, Any]]:
        response = self.s3.list_objects_v2(Bucket=self.options.bucket, Prefix=self.folder)
        items: list[dict[str, Any]] = [dict(item) for item in response.get("Contents", [])]
        return sorted(items, key=lambda item: str(item["Key"]))

    def short(self, key: str) -> str:
        return key[len(self.folder) :] if key.startswith(self.folder) else key

    # --- 1 -----------------------------------------------------------------------------------------

    def start_endpoint(self) -> None:
        self.p.step(1, "Start an embedded S3, create a bucket, apply the lifecycle rule, route events to SQS")
        if self.server.process is None:
            self.server.start()
        url = self.server.url
        with patched_environ(offline_environ(url)):
            self.s3: S3Client = s3_client(endpoint_url=url, max_pool_connections=32)
            self.sqs: SQSClient = _sqs_client(url)
            bucket = self.options.bucket
            self.s3.create_bucket(Bucket=bucket)
            # The same merge `glacierable lifecycle apply` and the stack's custom resource perform.
            rules = apply_rules(
                self.s3,
                bucket,
                prefix=self.options.rule_prefix,
                storage_class=self.options.storage_class,
                days=self.options.days,
            )
            self.events_queue = self.sqs.create_queue(QueueName="glacierable-s3-events")["QueueUrl"]
            self.restore_queue = self.sqs.create_queue(QueueName="glacierable-restore")["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=self.events_queue, AttributeNames=["QueueArn"])
            self.events_arn = arn["Attributes"]["QueueArn"]
            restore_arn = self.sqs.get_queue_attributes(
                QueueUrl=self.restore_queue, AttributeNames=["QueueArn"]
            )
            self.restore_arn = restore_arn["Attributes"]["QueueArn"]
            self.s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "QueueArn": self.events_arn,
                            "Events": ["s3:ObjectCreated:*"],
                            "Filter": {
                                "Key": {
                                    "FilterRules": [{"Name": "prefix", "Value": self.options.rule_prefix}]
                                }
                            },
                        }
                    ]
                },
            )
        self.p.say(f"endpoint  {url}   bucket  {bucket}   backups  {self.url}")
        self.p.command(
            f"glacierable lifecycle apply --bucket {bucket} --prefix {self.options.rule_prefix} "
            f"--storage-class {self.options.storage_class} --days {self.options.days} --endpoint-url {url}"
        )
        self.p.block(table(("rule", "filter", "action"), [_describe_rule(rule) for rule in rules]))
        self.p.say(
            f"Notification: s3:ObjectCreated:* under {self.options.rule_prefix} -> SQS queue "
            "glacierable-s3-events (on AWS the stack sends these events straight to the tagger Lambda; "
            "the emulator cannot run Lambdas, so the demo reads the queue and calls the same handler)."
        )

    # --- 2 -----------------------------------------------------------------------------------------

    def back_up(self) -> None:
        self.p.step(2, "Back up a folder with the real duplicity: a full, then two incrementals")
        runner = self.duplicity()
        tree = SourceTree(self.workdir / "source", self.options.files)
        archive_dir = self.workdir / "cache-backup"
        labels = ("full", "incremental 1", "incremental 2")
        known: set[str] = set()
        for index, (label, at) in enumerate(zip(labels, self.times, strict=True)):
            changes = tree.create(at) if index == 0 else tree.change(at)
            started = time.monotonic()
            result = runner.backup(
                tree.root,
                self.url,
                full=index == 0,
                at=at,
                archive_dir=archive_dir,
                volsize=self.options.volsize,
            )
            seconds = time.monotonic() - started
            if index == 0:
                self.p.command(_display_command(result.command, self.workdir))
            keys = [item["Key"] for item in self.list_folder()]
            new_keys = [key for key in keys if key not in known]
            known.update(keys)
            self.backups.append(
                _Backup(label, at, changes, tree.snapshot(), total_bytes(tree.root), new_keys, seconds)
            )
        rows = [
            (
                b.label,
                format_time(b.at),
                b.changes.describe() if i else f"{len(b.changes.added)} files",
                len(b.snapshot),
                size_text(b.source_bytes),
                sum(1 for k in b.new_keys if classify(k).kind == "volume"),
                len(b.new_keys),
                f"{b.seconds:.1f} s",
            )
            for i, b in enumerate(self.backups)
        ]
        headers = (
            "backup",
            "dated (--current-time)",
            "changes",
            "files",
            "size",
            "volumes",
            "objects",
            "took",
        )
        self.p.block(table(headers, rows))
        self.p.say(
            f"Encrypted with gpg (a demo passphrase), --volsize {self.options.volsize}: each backup writes "
            "its data volumes, a manifest and a signature file. The photos are random bytes, so the "
            "volumes are full-size. The hash of every source file is kept after each backup, to check "
            "the restores against."
        )

    # --- 3 -----------------------------------------------------------------------------------------

    def tag(self) -> None:
        self.p.step(3, "Deliver each S3 event to the tagger Lambda handler")
        messages = receive_all(self.sqs, self.events_queue)
        events: Counter[str] = Counter()
        actions: dict[str, str] = {}
        failed = 0
        sample: dict[str, Any] | None = None
        for message in messages:
            event = json.loads(message.body)  # the SQS body is the S3 notification itself
            for record in event.get("Records", []):
                events[str(record.get("eventName"))] += 1
            if event.get("Event") == "s3:TestEvent":
                events["s3:TestEvent"] += 1
            invocation = self.lambdas.tagger(event)
            if invocation.error is not None:
                failed += 1
                self.problems.append(f"tagger failed: {invocation.error}")
                continue
            delete(self.sqs, self.events_queue, [message])
            for line in invocation.log:
                if line.get("message") == "object processed":
                    actions[line["key"]] = line["action"]
                    sample = sample or line
        self.p.say(
            f"{len(messages)} events from the queue, one invocation each: "
            + ", ".join(f"{n} {name}" for name, n in sorted(events.items()))
            + ". The handler acts on ObjectCreated records and ignores the rest (the test event S3 sends "
            "when a notification is configured, and any other record)."
        )
        rows = []
        for item in self.list_folder():
            key = item["Key"]
            tags = {
                t["Key"]: t["Value"]
                for t in self.s3.get_object_tagging(Bucket=self.options.bucket, Key=key)["TagSet"]
            }
            decision = classify(key)
            tag = tags.get(TAG_KEY, "(none)")
            rows.append((self.short(key), decision.kind, actions.get(key, "-"), f"{TAG_KEY}={tag}"))
            expected = "true" if decision.glacierable else "false"
            if tag != expected:
                self.problems.append(f"{key} is tagged {tag!r}, expected {expected!r}")
        self.p.say(f"Objects in {self.folder}, with the tag now stored in S3:")
        self.p.block(table(("object", "kind", "tagger", "tag"), rows))
        if sample is not None:
            shown = {
                k: sample[k]
                for k in ("level", "message", "key", "decision", "action", "function_name")
                if k in sample
            }
            self.p.say("One of the handler's structured log lines (what CloudWatch Logs would hold):")
            self.p.block(json.dumps(shown))
        if failed:
            raise StoryFailed(f"the tagger failed on {failed} events")

    # --- 4 -----------------------------------------------------------------------------------------

    def transition(self) -> None:
        self.p.step(4, "Let time pass: the lifecycle rule moves tagged volumes to Glacier")
        config = read_config(self.s3, self.options.bucket)
        objects = []
        for item in self.list_folder():
            tagging = self.s3.get_object_tagging(Bucket=self.options.bucket, Key=item["Key"])
            objects.append(
                StoredObject(
                    key=item["Key"],
                    size=int(item["Size"]),
                    last_modified=item["LastModified"],
                    storage_class=str(item.get("StorageClass", "STANDARD")),
                    tags={t["Key"]: t["Value"] for t in tagging["TagSet"]},
                )
            )
        clock = earliest_moment_all_due(config.rules, objects)
        if clock is None:
            raise StoryFailed("no lifecycle rule matches any object: nothing would ever be archived")
        uploaded = max(obj.last_modified for obj in objects).astimezone(UTC)
        self.p.say(
            f"S3 dates objects by upload ({_iso(uploaded)}), not by duplicity's --current-time, and the "
            f"emulator never runs lifecycle rules. So the clock moves to {_iso(clock)}: {self.options.days} "
            "day(s) after upload, rounded up to midnight UTC, as S3 counts. Each object is evaluated as S3 "
            "does (filter prefix and tag, 128 KB minimum size, days) and moved with a copy onto itself "
            "that changes only its storage class (tags and metadata copied)."
        )
        minimum = config.transition_default_minimum_object_size
        decisions = [decide(config.rules, obj, clock, minimum_object_size=minimum) for obj in objects]
        for decision in decisions:
            if decision.target is not None:
                self.s3.copy_object(
                    Bucket=self.options.bucket,
                    Key=decision.key,
                    CopySource={"Bucket": self.options.bucket, "Key": decision.key},
                    StorageClass=decision.target,  # type: ignore[arg-type]
                    MetadataDirective="COPY",
                    TaggingDirective="COPY",
                )
        # The emulator's copies emit ObjectCreated:Copy; on AWS a transition emits s3:LifecycleTransition,
        # which the tagger is not subscribed to. So these events are dropped, not delivered.
        copies = receive_all(self.sqs, self.events_queue)
        delete(self.sqs, self.events_queue, copies)
        dropped: Counter[str] = Counter(
            str(record.get("eventName"))
            for message in copies
            for record in json.loads(message.body).get("Records", [])
        )
        after = {item["Key"]: str(item.get("StorageClass", "STANDARD")) for item in self.list_folder()}
        rows = []
        for obj, decision in zip(objects, decisions, strict=True):
            why = f"rule {decision.rule_id}" if decision.target else decision.reason
            rows.append(
                (self.short(obj.key), size_text(obj.size), obj.tags.get(TAG_KEY, "-"), after[obj.key], why)
            )
            if decision.target is not None and after[obj.key] != decision.target:
                self.problems.append(f"{obj.key} should be {decision.target}, is {after[obj.key]}")
            if classify(obj.key).kind != "volume" and after[obj.key] != "STANDARD":
                self.problems.append(f"{obj.key} is not a volume but is {after[obj.key]}")
        self.p.block(table(("object", "size", "tag", "class now", "why"), rows))
        events = ", ".join(f"{n} {name}" for name, n in sorted(dropped.items())) or "no"
        self.p.say(
            f"The emulator's copies sent {events} events; the demo drops them (on AWS a transition is an "
            "s3:LifecycleTransition event, which the tagger is not subscribed to)."
        )
        self.cost_before = monthly_storage_cost((obj.size, obj.storage_class) for obj in objects)
        self.cost_after = monthly_storage_cost((obj.size, after[obj.key]) for obj in objects)
        self.storage_table(objects, after)
        runner = self.duplicity()
        result = runner.collection_status(self.url, archive_dir=self.fresh_archive_dir("status"))
        self.p.say(
            "Manifests and signatures stayed in Standard, so duplicity still plans and lists backups; "
            "from an empty cache, as on a new machine:"
        )
        self.p.command(_display_command(result.command, self.workdir))
        self.p.block(_collection_summary(result.stdout))

    def storage_table(self, objects: Sequence[StoredObject], after: dict[str, str]) -> None:
        by_class: dict[str, list[int]] = {}
        for obj in objects:
            by_class.setdefault(after[obj.key], []).append(obj.size)
        rows = [
            (cls, len(sizes), size_text(sum(sizes)), money(monthly_storage_cost((s, cls) for s in sizes)))
            for cls, sizes in sorted(by_class.items())
        ]
        self.p.block(table(("class", "objects", "bytes", "per month"), rows))
        saved = 1 - self.cost_after / self.cost_before if self.cost_before else 0.0
        # The same mix at duplicity's default 200 MB volumes: the 40 KB per archived object weighs less.
        volumes = 1024 * 1024 // 200
        tb_before = monthly_storage_cost([(200 * 1024**2, "STANDARD")] * volumes)
        tb_after = monthly_storage_cost([(200 * 1024**2, self.options.storage_class)] * volumes)
        self.p.say(
            f"Storage: {money(self.cost_before)} per month before, {money(self.cost_after)} after "
            f"({saved:.0%} less; Glacier's 40 KB per object included). 1 TB of volumes at duplicity's "
            f"default 200 MB --volsize: {money(tb_before)} -> {money(tb_after)} per month "
            f"({PRICES_REGION} prices of {PRICES_DATE}, glacierable.pricing)."
        )

    # --- 5 -----------------------------------------------------------------------------------------

    def plain_restore_fails(self) -> None:
        self.p.step(5, "A plain duplicity restore now fails on the archived volumes (expected)")
        runner = self.duplicity()
        target = self.workdir / "restore-plain"
        result = runner.restore(
            self.url, target, at=self.now, archive_dir=self.fresh_archive_dir("plain"), check=False
        )
        self.p.command(_display_command(result.command, self.workdir))
        lines = [line for line in error_lines(result) if "InvalidObjectState" in line]
        if result.returncode == 0:
            raise StoryFailed("duplicity restored from archived volumes: the transition did not happen")
        if not lines:
            raise StoryFailed(f"duplicity failed, but not on an archived object:\n{result.output[-2000:]}")
        self.p.block(f"exit code {result.returncode}: {_clip(lines[0], 160)}")
        self.p.say(
            "duplicity's S3 backend does a plain GetObject, and S3 refuses to read an archived object "
            "until a restore has made a temporary copy (InvalidObjectState). It never calls RestoreObject, "
            "and thawing volumes one at a time as it stops on each would take hours per volume."
        )

    # --- 6 -----------------------------------------------------------------------------------------

    def fan_out(self) -> None:
        self.p.step(6, "Restore exactly what duplicity will read, all at once, and wait")
        self.server.keep_restores_ongoing(self.options.ongoing_reads)
        self.p.say(
            f"The emulator keeps each restore in progress for {self.options.ongoing_reads} status reads "
            "(on AWS, Standard retrieval takes 3-5 hours; the progress bar's ETA is AWS's)."
        )
        url = self.server.url
        bucket = self.options.bucket
        middle = str(self.middle_time)
        self.p.say(
            f"6a. A time in the middle of the chain, {format_time(self.middle_time)} (after incremental 1): "
            "the operator's CLI, requesting from this machine.",
            indent=3,
        )
        common = ["--bucket", bucket, "--prefix", self.options.folder, "--endpoint-url", url]
        self.cli(["plan", *common, "--time", middle])
        self.cli(
            ["restore", *common, "--time", middle, "--wait", "--interval", str(self.options.poll_interval)]
        )
        self.p.say()
        self.p.say(
            "6b. The latest backup, through the deployed path: the restore Lambda plans and queues batches "
            "on SQS, a worker Lambda requests each batch. The full and incremental 1 are already restored, "
            "so only incremental 2's volumes are requested."
        )
        request = {"prefix": self.options.folder, "time": str(self.now), "tier": "Standard", "days": 7}
        self.p.block(f"restore Lambda event: {json.dumps(request)}")
        invocation = self.lambdas.restore(request)
        if invocation.error is not None:
            raise StoryFailed(f"the restore Lambda failed: {invocation.error}")
        result = invocation.result
        self.p.block(
            f"-> restore_id {result['restore_id']}: {result['needed_count']} objects needed, "
            f"{result['readable_count']} readable, {result['in_progress_count']} in progress, "
            f"{result['queued']} queued in {result['batches']} batch(es)"
        )
        messages = receive_all(self.sqs, self.restore_queue)
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            worker = self.lambdas.worker([m.as_record(self.restore_arn) for m in chunk])
            if worker.error is not None:
                raise StoryFailed(f"the restore worker failed: {worker.error}")
            failed = {f["itemIdentifier"] for f in worker.result["batchItemFailures"]}
            delete(self.sqs, self.restore_queue, [m for m in chunk if m.message_id not in failed])
            outcomes: Counter[str] = Counter()
            for line in worker.log:
                outcomes.update(line.get("counts", {}))
            shown = ", ".join(f"{n} {name}" for name, n in outcomes.items() if n) or "nothing to do"
            self.p.block(f"-> worker invocation with {len(chunk)} message(s): {shown}")
            if failed:
                raise StoryFailed(f"the restore worker could not finish {len(failed)} batch(es)")
        self.wait_latest()

    def wait_latest(self) -> None:
        request = RestoreRequest.from_json(
            {"prefix": self.options.folder, "time": str(self.now)}, now=self.now
        )

        def show(poll: Poll) -> None:
            counts = ", ".join(f"{n} {state}" for state, n in poll.status.counts().items() if n)
            self.p.block(f"{poll.status.readable_count}/{len(poll.status.objects)} readable ({counts})")

        status = wait_until_readable(
            self.s3,
            RestorePoint(self.options.bucket, request, self.now),
            interval=self.options.poll_interval,
            concurrency=16,
            on_poll=show,
        )
        self.p.block(f"{status.readable_count}/{len(status.objects)} needed objects readable")
        self.p.block(
            duplicity_command(
                self.options.bucket, request.folder, self.now, request.prefixes, self.server.url
            )
        )

    def cli(self, argv: list[str]) -> None:
        """Run the real `glacierable` command, as a user would, and show what it prints."""
        self.p.command("glacierable " + " ".join(_quote_demo(arg) for arg in argv))
        completed = subprocess.run(
            [sys.executable, "-m", "glacierable_cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # progress and summary in the order the user would see them
            text=True,
            check=False,
        )
        self.p.block(completed.stdout.rstrip("\n"))
        if completed.returncode != 0:
            raise StoryFailed(f"glacierable {argv[0]} exited with {completed.returncode}")

    # --- 7 -----------------------------------------------------------------------------------------

    def restore_and_verify(self) -> None:
        self.p.step(7, "duplicity restore, and compare with the source at that time, file by file")
        runner = self.duplicity()
        checks = (
            ("middle", self.middle_time, self.backups[1]),
            ("latest", self.now, self.backups[2]),
        )
        rows = []
        for label, at, backup in checks:
            plan = load_plan(self.s3, self.options.bucket, self.folder, at)
            if not StatusReport.of(plan).all_readable:
                raise StoryFailed(f"objects for the {label} restore are still not readable")
            target = self.workdir / f"restore-{label}"
            started = time.monotonic()
            try:
                result = runner.restore(self.url, target, at=at, archive_dir=self.fresh_archive_dir(label))
            except DuplicityError as error:
                raise StoryFailed(f"duplicity restore ({label}) failed: {error}") from error
            seconds = time.monotonic() - started
            self.p.command(_display_command(result.command, self.workdir))
            if self.after_restore is not None:
                self.after_restore(label, target)
            restored = hash_tree(target)
            problems = compare(backup.snapshot, restored)
            if problems:
                self.mismatches[label] = problems
            verdict = "identical" if not problems else f"{len(problems)} MISMATCH(ES)"
            rows.append(
                (
                    label,
                    format_time(at),
                    f"{backup.label} ({format_time(backup.at)})",
                    len(restored),
                    size_text(total_bytes(target)),
                    f"{seconds:.1f} s",
                    verdict,
                )
            )
        headers = ("restore", "time (-t)", "source as of", "files", "size", "took", "SHA-256 of every file")
        self.p.block(table(headers, rows))
        for label, problems in self.mismatches.items():
            self.p.say(f"{label}: the restored tree differs from the source:")
            self.p.block("\n".join(problems[:50]), indent=5)

    # --- end -----------------------------------------------------------------------------------------

    def finish(self, ok: bool, elapsed: float) -> None:
        self.p.heading("Summary")
        self.p.block(self.timings.render())
        if self.cost_before:
            self.p.say(
                f"Storage per month: {money(self.cost_before)} before, {money(self.cost_after)} after."
            )
        if ok:
            self.p.say(
                f"OK: both restores equal the source at their time, file by file ({elapsed:.0f} s).", indent=0
            )
            return
        for problem in self.problems:
            self.p.say(f"problem: {problem}", indent=0)
        for label, problems in self.mismatches.items():
            self.p.say(f"MISMATCH in the {label} restore: {len(problems)} file(s) differ", indent=0)
        self.p.say("FAILED", indent=0)


def _sqs_client(endpoint_url: str) -> SQSClient:
    import boto3  # a runtime dependency; imported here to keep module import light

    return boto3.session.Session().client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")


def _describe_rule(rule: dict[str, Any]) -> tuple[str, str, str]:
    filter_ = rule.get("Filter", {})
    parts = filter_.get("And", filter_)
    tags = parts.get("Tags", [parts["Tag"]] if "Tag" in parts else [])
    described = [f"prefix {parts['Prefix']!r}"] if parts.get("Prefix") else []
    described += [f"tag {t['Key']}={t['Value']}" for t in tags]
    if "Transitions" in rule:
        t = rule["Transitions"][0]
        action = f"to {t['StorageClass']} after {t['Days']} day(s)"
    else:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        action = f"abort incomplete uploads after {days} days"
    return str(rule["ID"]), ", ".join(described) or "whole bucket", action


def _collection_summary(stdout: str) -> str:
    """The lines of collection-status that describe the chain and its sets."""
    keep = []
    for line in stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith(
            ("Found primary", "Chain start", "Chain end", "Number of contained", "Total number")
        ):
            keep.append(stripped)
        elif stripped.startswith(("Full ", "Incremental ")):
            keep.append("  " + " ".join(stripped.split()))
    return "\n".join(keep)


def _display_command(command: str, workdir: Path) -> str:
    """A duplicity command as shown: the work folder abbreviated, the speed-only gpg option left out."""
    shown = command.replace(" '--gpg-options=--s2k-count 65536'", "").replace(f"{workdir}/", "$WORK/")
    return shown.replace(str(workdir), "$WORK")


def _quote_demo(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./:=" for c in arg) else json.dumps(arg)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


__all__ = ["RestoreHook", "StoryFailed", "StoryOptions", "StoryResult", "run_story"]
