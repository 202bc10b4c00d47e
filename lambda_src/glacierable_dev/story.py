"""The demo's story, step by step: real duplicity backups on an embedded S3, tagged, archived, and restored.

Every step calls the code the product runs: the tagger, restore and worker Lambda handlers with the events
Lambda would deliver, `glacierable lifecycle apply`'s merge, `glacierable plan | restore --wait` and
`glacierable run -- duplicity restore …`. Only S3 itself is emulated (a moto server), with the lifecycle
transition and the expiry of restored copies, which the emulator never performs.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from glacierable_dev.duplicity_runner import DuplicityError
from glacierable_dev.emulator import MotoServer
from glacierable_dev.lambdas import LocalLambdas, offline_environ, patched_environ
from glacierable_dev.report import (
    Printer,
    money,
)

if TYPE_CHECKING:
    pass

from glacierable_dev.story_archive import ArchiveSteps
from glacierable_dev.story_base import RestoreHook, StoryFailed, StoryOptions, StoryResult
from glacierable_dev.story_recovery import RecoverySteps
from glacierable_dev.story_run import RunSteps


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


class _Story(ArchiveSteps, RecoverySteps, RunSteps):
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
            one_file=self.one_file,
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
        with self.timings.measure("8. glacierable run: one file, whole tree"):
            self.one_file_then_tree()

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
                f"OK: every restore equals the source at its time, file by file ({elapsed:.0f} s).", indent=0
            )
            return
        for problem in self.problems:
            self.p.say(f"problem: {problem}", indent=0)
        for label, problems in self.mismatches.items():
            self.p.say(f"MISMATCH in the {label} restore: {len(problems)} file(s) differ", indent=0)
        self.p.say("FAILED", indent=0)


__all__ = ["RestoreHook", "StoryFailed", "StoryOptions", "StoryResult", "run_story"]
