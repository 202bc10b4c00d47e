"""Step 8 of the demo: later, one file from the backup with `glacierable run`, then the whole tree.

The user's own `duplicity restore --path-to-restore …` is the plan: `glacierable run` asks its dry run which
volumes it reads, thaws those, waits, and runs it. The same command without the path then thaws only what
is still archived.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from glacierable.classify import classify
from glacierable_dev.duplicity_runner import DUPLICITY
from glacierable_dev.lambdas import delete, receive_all
from glacierable_dev.report import size_text, table
from glacierable_dev.source_tree import compare, hash_tree, total_bytes
from glacierable_dev.story_base import StoryBase, StoryFailed

ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
State = Literal["archived", "restoring", "restored", "not archived"]


@dataclass(frozen=True, slots=True)
class _Verified:
    label: str
    restored: str
    files: int
    size: int
    seconds: float
    problems: list[str]


class RunSteps(StoryBase):
    # --- 8 -----------------------------------------------------------------------------------------

    def one_file_then_tree(self) -> None:
        self.p.step(8, "Weeks later, one file: `glacierable run -- duplicity restore …`, then the whole tree")
        self.expire_restored_copies()
        path = self.pick_one_file()
        self.one_file = path
        env = self.user_shell()
        poll = ["--interval", str(self.options.poll_interval)]
        target = self.workdir / "restore-one-file" / PurePosixPath(path).name
        target.parent.mkdir()
        one_file = self.user_restore(target, path)
        self.p.say(
            f"8a. One file, {path!r}, from the latest backup: the duplicity command the user would type, "
            "behind `glacierable run --plan-only`. duplicity's own --dry-run lists the volumes it reads, "
            "priced beside the whole restore point; nothing is requested."
        )
        self.cli(["run", "--plan-only", "--", *one_file], env=env)
        before = self.volume_states()

        self.p.say()
        self.p.say(
            "8b. The same command without --plan-only, Expedited: it thaws those volumes only, waits "
            "until S3 can read them, then runs the duplicity command unchanged."
        )
        started = time.monotonic()
        self.cli(["run", "--tier", "Expedited", *poll, "--", *one_file], env=env)
        one = self.verify_file("one file", target, path, time.monotonic() - started)
        after_one = self.volume_states()

        self.p.say()
        self.p.say(
            "8c. The whole tree, the same command without --path-to-restore: only what is still archived "
            "becomes a new restore. (The emulator's listing reports no restore states, so the volumes 8b "
            "thawed are asked again and S3 answers that they are already restored, extending their copies' "
            "expiry; AWS's listing reports the states and they are not asked at all.)"
        )
        tree_target = self.workdir / "restore-whole-tree"
        started = time.monotonic()
        self.cli(["run", *poll, "--", *self.user_restore(tree_target, None)], env=env)
        tree = self.verify_tree("whole tree", tree_target, time.monotonic() - started)
        after_tree = self.volume_states()

        self.show_states(before, after_one, after_tree)
        headers = ("glacierable run", "restored", "files", "size", "took", "SHA-256 against the source")
        rows = [
            (v.label, v.restored, v.files, size_text(v.size), f"{v.seconds:.1f} s", _verdict(v.problems))
            for v in (one, tree)
        ]
        self.p.block(table(headers, rows))
        for verified in (one, tree):
            if verified.problems:
                self.p.say(f"{verified.label}: the restore differs from the source:")
                self.p.block("\n".join(verified.problems[:50]), indent=5)

    def expire_restored_copies(self) -> None:
        """Archive every restored volume again, as S3 does when a restored copy's days are over."""
        listed = self.list_folder()
        archived = [item for item in listed if str(item.get("StorageClass", "STANDARD")) in ARCHIVE_CLASSES]
        for item in archived:
            # The emulator never expires a restored copy; a copy onto itself makes a fresh archived object
            # (same bytes, tags and metadata), as step 4's transition did.
            self.s3.copy_object(
                Bucket=self.options.bucket,
                Key=item["Key"],
                CopySource={"Bucket": self.options.bucket, "Key": item["Key"]},
                StorageClass=item["StorageClass"],
                MetadataDirective="COPY",
                TaggingDirective="COPY",
            )
        # Emulator copies emit ObjectCreated:Copy; S3's expiry emits no event the tagger receives.
        delete(self.sqs, self.events_queue, receive_all(self.sqs, self.events_queue))
        still = [key for key, state in self.volume_states().items() if state in ("restoring", "restored")]
        if still:
            raise StoryFailed(f"{len(still)} volume(s) are still restored after the copies expired: {still}")
        self.p.say(
            "The copies restored in step 6 expired after their 7 days (S3 deletes a restored copy when its "
            "--days are over; the emulator never does, so the demo archives the volumes again with a copy "
            f"onto themselves, as in step 4): none of the {len(archived)} volumes in Glacier is readable now."
        )

    def pick_one_file(self) -> str:
        """A file the last backup added (a photo deleted by mistake the day after, say).

        duplicity reads, for a path, a volume of every backup set whose manifest ranges cover it: in this
        demo's backups a file of the full also needs a volume of each incremental (measured with its dry
        run), while a file new in the last incremental needs that incremental's volume alone.
        """
        added = sorted(self.backups[-1].changes.added)
        if not added:
            raise StoryFailed("the last backup added no file to restore on its own")
        return added[0]

    def user_shell(self) -> dict[str, str]:
        """The user's environment: duplicity's passphrase and gpg home, `duplicity` on PATH."""
        env = self.duplicity().environment()
        env["PATH"] = os.pathsep.join([str(DUPLICITY.parent), env.get("PATH", os.defpath)])
        return env

    def user_restore(self, target: Path, path: str | None) -> list[str]:
        """`duplicity restore` of the latest backup as a user types it (the default cache, empty at first)."""
        argv = ["duplicity", "restore", "--s3-endpoint-url", self.server.url, "--num-retries", "1"]
        if path is not None:
            argv += ["--path-to-restore", path]
        return [*argv, self.url, str(target)]

    def volume_states(self) -> dict[str, State]:
        """Each data volume's state, from S3's own answer (HeadObject), by key."""
        states: dict[str, State] = {}
        for item in self.list_folder():
            key = item["Key"]
            if classify(key).kind != "volume":
                continue
            head = self.s3.head_object(Bucket=self.options.bucket, Key=key)
            restore = head.get("Restore", "")
            if head.get("StorageClass", "STANDARD") not in ARCHIVE_CLASSES:
                states[key] = "not archived"
            elif 'ongoing-request="true"' in restore:
                states[key] = "restoring"
            elif 'ongoing-request="false"' in restore:
                states[key] = "restored"
            else:
                states[key] = "archived"
        return states

    def show_states(self, *columns: dict[str, State]) -> None:
        before, after_one, after_tree = columns
        rows = [
            (self.short(key), before[key], after_one.get(key, "-"), after_tree.get(key, "-"))
            for key in sorted(before)
        ]
        self.p.say("The data volumes, as S3 reports them (HeadObject):")
        self.p.block(table(("volume", "before", "after 8b (one file)", "after 8c (whole tree)"), rows))
        counts = [Counter(column.values()) for column in columns]
        thawed_one = counts[1]["restored"] - counts[0]["restored"]
        self.p.say(
            f"One file needed {thawed_one} of the {len(before)} volumes thawed "
            f"({counts[0]['archived']} archived, {counts[0]['not archived']} under 128 KB stay in Standard); "
            f"the whole tree thawed the other {counts[2]['restored'] - counts[1]['restored']}."
        )

    def verify_file(self, label: str, target: Path, path: str, seconds: float) -> _Verified:
        if self.after_restore is not None:
            self.after_restore(label, target)
        expected = self.backups[-1].snapshot[path]
        if not target.is_file():
            problems = [f"missing: {path}"]
        elif hashlib.sha256(target.read_bytes()).hexdigest() != expected:
            problems = [f"different content: {path}"]
        else:
            problems = []
        size = target.stat().st_size if target.is_file() else 0
        return self._verified(label, path, int(target.is_file()), size, seconds, problems)

    def verify_tree(self, label: str, target: Path, seconds: float) -> _Verified:
        if self.after_restore is not None:
            self.after_restore(label, target)
        restored = hash_tree(target)
        problems = compare(self.backups[-1].snapshot, restored)
        return self._verified(label, "every file", len(restored), total_bytes(target), seconds, problems)

    def _verified(
        self, label: str, restored: str, files: int, size: int, seconds: float, problems: list[str]
    ) -> _Verified:
        if problems:
            self.mismatches[label] = problems
        return _Verified(label, restored, files, size, seconds, problems)


def _verdict(problems: list[str]) -> str:
    return "identical" if not problems else f"{len(problems)} MISMATCH(ES)"
