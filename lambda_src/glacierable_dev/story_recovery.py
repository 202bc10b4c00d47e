"""Steps 6 and 7 of the demo: thaw exactly what duplicity reads, then restore and compare with the source."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import TYPE_CHECKING

from glacierable.duplicity_command import duplicity_command
from glacierable.names import format_time
from glacierable.object_status import StatusReport, load_plan
from glacierable.restore_flow import Poll, RestorePoint, wait_until_readable
from glacierable.restore_request import RestoreRequest
from glacierable.restore_summary import RestoreRefusal, read_answer
from glacierable_dev.duplicity_runner import DuplicityError
from glacierable_dev.lambdas import delete, receive_all
from glacierable_dev.report import (
    size_text,
    table,
)
from glacierable_dev.source_tree import compare, hash_tree, total_bytes

if TYPE_CHECKING:
    pass

from glacierable_dev.story_base import StoryBase, StoryFailed
from glacierable_dev.story_text import display_command


class RecoverySteps(StoryBase):
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
        result = read_answer(invocation.result)
        if isinstance(result, RestoreRefusal):
            raise StoryFailed(f"the restore Lambda refused the request: {result.text}")
        self.p.block(
            f"-> restore_id {result.restore_id}: {result.count('needed')} objects needed, "
            f"{result.count('readable')} readable, {result.count('in_progress')} in progress, "
            f"{result.queued} queued in {result.batches} batch(es)"
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
            self.p.command(display_command(result.command, self.workdir))
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
