"""Steps 1 to 5 of the demo: the embedded S3, duplicity backups, tagging, archiving, a restore that fails."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from glacierable import TAG_KEY
from glacierable.classify import classify
from glacierable.clients import s3_client
from glacierable.lifecycle_store import apply_rules, read_config
from glacierable.names import format_time
from glacierable.pricing import PRICES_DATE, PRICES_REGION
from glacierable_dev.duplicity_runner import error_lines
from glacierable_dev.lambdas import delete, offline_environ, patched_environ, receive_all
from glacierable_dev.report import (
    money,
    monthly_storage_cost,
    size_text,
    table,
)
from glacierable_dev.source_tree import SourceTree, total_bytes
from glacierable_dev.transition import StoredObject, decide, earliest_moment_all_due

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

from glacierable_dev.story_base import StoryBase, StoryFailed, _Backup
from glacierable_dev.story_text import (
    clip,
    collection_summary,
    describe_rule,
    display_command,
    iso,
    sqs_client,
)


class ArchiveSteps(StoryBase):
    # --- 1 -----------------------------------------------------------------------------------------

    def start_endpoint(self) -> None:
        self.p.step(1, "Start an embedded S3, create a bucket, apply the lifecycle rule, route events to SQS")
        if self.server.process is None:
            self.server.start()
        url = self.server.url
        with patched_environ(offline_environ(url)):
            self.s3: S3Client = s3_client(endpoint_url=url, max_pool_connections=32)
            self.sqs: SQSClient = sqs_client(url)
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
        self.p.block(table(("rule", "filter", "action"), [describe_rule(rule) for rule in rules]))
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
                self.p.command(display_command(result.command, self.workdir))
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
            f"S3 dates objects by upload ({iso(uploaded)}), not by duplicity's --current-time, and the "
            f"emulator never runs lifecycle rules. So the clock moves to {iso(clock)}: {self.options.days} "
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
        self.p.command(display_command(result.command, self.workdir))
        self.p.block(collection_summary(result.stdout))

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
        self.p.command(display_command(result.command, self.workdir))
        lines = [line for line in error_lines(result) if "InvalidObjectState" in line]
        if result.returncode == 0:
            raise StoryFailed("duplicity restored from archived volumes: the transition did not happen")
        if not lines:
            raise StoryFailed(f"duplicity failed, but not on an archived object:\n{result.output[-2000:]}")
        self.p.block(f"exit code {result.returncode}: {clip(lines[0], 160)}")
        self.p.say(
            "duplicity's S3 backend does a plain GetObject, and S3 refuses to read an archived object "
            "until a restore has made a temporary copy (InvalidObjectState). It never calls RestoreObject, "
            "and thawing volumes one at a time as it stops on each would take hours per volume."
        )
