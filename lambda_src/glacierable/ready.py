"""Telling the user when a restore is readable (pure code): the check message, its schedule, the verdict and
the notification texts.

The restore Lambda queues one ReadyCheck per restore it queues; the checker (handlers/restore_ready) re-plans
the restore from a listing at each check and re-sends the check, delayed, until everything is readable. The
plan is deterministic (the restore time is pinned in the message), so the message is the only state.

Schedule: a check every `check_interval` (an eighth of the time since the request, from 1 minute up to
1 hour: a restore is reported at most ~12% of its duration, and never more than an hour, after it is
readable); SQS delays a message 15 minutes at most, so a check not yet due is only re-sent (`hop_delay`),
without listing. Late: once, when the tier's longest documented time for the restore's storage classes has
passed. Give up: at `late_at` + max(that time, 1 hour), with a last message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from glacierable.duplicity_command import duplicity_command
from glacierable.names import format_time
from glacierable.restore_request import RequestError, RestoreRequest

MIN_INTERVAL = 60
MAX_INTERVAL = 3600
INTERVAL_FRACTION = 8
"""A check every 1/8 of the time elapsed since the request (between MIN_INTERVAL and MAX_INTERVAL)."""
MAX_DELAY = 900
"""SQS's maximum DelaySeconds."""
MIN_GIVE_UP_MARGIN = 3600
"""Checking goes on at least this long after a restore is late (Expedited's longest time is 5 minutes, and a
worker's retries of throttled requests alone can take longer)."""
SUBJECT_LIMIT = 100
"""SNS refuses a longer Subject."""


class CheckError(ValueError):
    """A check message that is malformed or names a request this stack refuses."""


class Verdict(StrEnum):
    """What a check found, and so what the checker does."""

    READY = "ready"
    """Everything is readable: publish, stop."""
    WAITING = "waiting"
    """Not yet: check again later."""
    LATE = "late"
    """Past the tier's longest time, first time seen: publish once, check again later."""
    GAVE_UP = "gave_up"
    """Past the last check's time and still not readable: publish a last message, stop."""


@dataclass(frozen=True, slots=True)
class Readiness:
    """The state of a restore's needed objects at one check."""

    total: int
    readable: int
    archived: int = 0
    """Archived with no restore in progress or done (a lost request, an expired copy): nothing will come."""
    restoring: int = 0
    earliest_expiry: datetime | None = None
    par2: bool = False

    @property
    def all_readable(self) -> bool:
        return self.readable == self.total

    @property
    def waiting(self) -> int:
        return self.total - self.readable


@dataclass(frozen=True, slots=True)
class ReadyCheck:
    """One scheduled look at a restore: the message on the check queue (JSON, `to_body`/`from_body`)."""

    restore_id: str
    bucket: str
    request: RestoreRequest
    restore_time: int
    """Pinned: every check plans the restore point the request was planned at."""
    requested_at: int
    late_at: int
    give_up_at: int
    next_check_at: int
    checks: int = 0
    """How many checks have listed the bucket so far."""
    late_reported: bool = False

    @classmethod
    def first(
        cls,
        restore_id: str,
        bucket: str,
        request: RestoreRequest,
        *,
        restore_time: int,
        now: int,
        longest_hours: float,
    ) -> ReadyCheck:
        """The first check of a restore requested at `now` whose slowest restore takes `longest_hours`."""
        longest = round(longest_hours * 3600)
        late_at = now + longest
        return cls(
            restore_id=restore_id,
            bucket=bucket,
            request=request,
            restore_time=restore_time,
            requested_at=now,
            late_at=late_at,
            give_up_at=late_at + max(longest, MIN_GIVE_UP_MARGIN),
            next_check_at=now + MIN_INTERVAL,
        )

    def due(self, now: int) -> bool:
        """Whether this check should list the bucket now (else it is only re-sent, delayed)."""
        return now >= self.next_check_at

    def after_check(self, now: int, verdict: Verdict) -> ReadyCheck:
        """The next check after one at `now` found `verdict` (WAITING or LATE)."""
        due = now + check_interval(now - self.requested_at)
        late_reported = self.late_reported or verdict is Verdict.LATE
        if not late_reported and self.late_at > now:
            due = min(due, self.late_at)  # report lateness when it happens, not up to an hour on
        return replace(
            self,
            checks=self.checks + 1,
            late_reported=late_reported,
            next_check_at=max(now + 1, min(due, self.give_up_at)),
        )

    def verdict(self, readiness: Readiness, now: int) -> Verdict:
        if readiness.all_readable:
            return Verdict.READY
        if now >= self.give_up_at:
            return Verdict.GAVE_UP
        if now >= self.late_at and not self.late_reported:
            return Verdict.LATE
        return Verdict.WAITING

    def to_body(self) -> str:
        return json.dumps(
            {
                "restore_id": self.restore_id,
                "bucket": self.bucket,
                "request": self.request.to_json(),
                "restore_time": self.restore_time,
                "requested_at": self.requested_at,
                "late_at": self.late_at,
                "give_up_at": self.give_up_at,
                "next_check_at": self.next_check_at,
                "checks": self.checks,
                "late_reported": self.late_reported,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_body(cls, body: str, *, stack_prefix: str = "") -> ReadyCheck:
        """Read a check back; the request is validated again, bounded by `stack_prefix`."""
        try:
            data = json.loads(body)
        except ValueError as error:
            raise CheckError(f"a ready check is JSON: {error}") from None
        if not isinstance(data, Mapping):
            raise CheckError(f"a ready check is a JSON object, not {type(data).__name__}")
        requested_at = _int(data, "requested_at")
        try:
            request = RestoreRequest.from_json(
                data.get("request"), now=requested_at, stack_prefix=stack_prefix
            )
        except RequestError as error:
            raise CheckError(f"request: {error}") from None
        late_reported = data.get("late_reported")
        if not isinstance(late_reported, bool):
            raise CheckError(f"late_reported must be true or false, not {late_reported!r:.60}")
        return cls(
            restore_id=_str(data, "restore_id"),
            bucket=_str(data, "bucket"),
            request=request,
            restore_time=_int(data, "restore_time"),
            requested_at=requested_at,
            late_at=_int(data, "late_at"),
            give_up_at=_int(data, "give_up_at"),
            next_check_at=_int(data, "next_check_at"),
            checks=_int(data, "checks"),
            late_reported=late_reported,
        )


def check_interval(elapsed: int) -> int:
    """Seconds until the next check, `elapsed` seconds after the request."""
    return min(MAX_INTERVAL, max(MIN_INTERVAL, elapsed // INTERVAL_FRACTION))


def hop_delay(check: ReadyCheck, now: int) -> int:
    """DelaySeconds to re-send `check` with: until it is due, at most SQS's 15 minutes."""
    return min(MAX_DELAY, max(0, check.next_check_at - now))


# --- what the user reads -------------------------------------------------------------------------


def ready_command(check: ReadyCheck, readiness: Readiness) -> str | None:
    """The duplicity command that reads exactly what was restored; None for a `keys` restore (the user's own
    `glacierable run -- duplicity …` command chose those volumes, and only it reads just them)."""
    if check.request.keys:
        return None
    request = check.request
    return duplicity_command(
        check.bucket, request.folder, check.restore_time, request.prefixes, None, par2=readiness.par2
    )


def subject(check: ReadyCheck, verdict: Verdict) -> str:
    words = {
        Verdict.READY: "is ready",
        Verdict.LATE: "is late",
        Verdict.GAVE_UP: "is still not ready: stopped checking",
        Verdict.WAITING: "is not ready yet",
    }
    return f"glacierable: restore {check.restore_id} {words[verdict]}"[:SUBJECT_LIMIT]


def message(check: ReadyCheck, readiness: Readiness, verdict: Verdict, now: int) -> str:
    """The notification's text for `verdict` (READY, LATE or GAVE_UP)."""
    where = f"s3://{check.bucket}/{check.request.folder}"
    point = (
        f"Restore point {format_time(check.restore_time)} ({check.request.tier.value} tier, "
        f"requested {format_time(check.requested_at)}, copies kept {check.request.days} day(s))."
    )
    if verdict is Verdict.READY:
        return "\n".join(
            [
                f"Restore {check.restore_id} is ready: all {readiness.total} object(s) it needs in {where} "
                "are readable.",
                point,
                _expiry_line(readiness),
                "",
                *_command_lines(check, readiness),
            ]
        )
    elapsed = (now - check.requested_at) / 3600
    longest = (check.late_at - check.requested_at) / 3600
    lines = [
        f"Restore {check.restore_id}: {readiness.waiting} of {readiness.total} object(s) it needs in "
        f"{where} are still not readable {elapsed:.1f} h after the request ({readiness.restoring} "
        f"restoring, {readiness.archived} archived with no restore).",
        point,
    ]
    if verdict is Verdict.LATE:
        lines.append(
            f"That is longer than the {check.request.tier.value} tier's longest documented time for these "
            f"storage classes ({longest:g} h). Checking goes on until {format_time(check.give_up_at)}; "
            "another message comes when everything is readable."
        )
    else:
        lines.append("Checking has stopped: no further message will come for this restore.")
    if readiness.archived:
        lines.append(
            f"{readiness.archived} object(s) are archived with no restore (a lost request, or a copy that "
            "expired): run the same restore again, which requests only those."
        )
    lines.append("See where it stands with `glacierable status` for the same backup and restore time.")
    return "\n".join(lines)


def _expiry_line(readiness: Readiness) -> str:
    if readiness.earliest_expiry is None:
        return "No restored copy is involved: every object is readable as stored."
    when = readiness.earliest_expiry.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return f"The first restored copies expire at {when}: run duplicity before then."


def _command_lines(check: ReadyCheck, readiness: Readiness) -> list[str]:
    command = ready_command(check, readiness)
    if command is None:
        return [
            "Run the duplicity command you gave `glacierable run` (or that glacierable run line again: it "
            "finds everything readable, requests nothing and runs it). It reads exactly these volumes.",
        ]
    return [
        "Restore with (add --s3-endpoint-url or your encryption options as you back up; the last word is "
        "the target folder):",
        f"  {command}",
    ]


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise CheckError(f"{name} must be a non-empty string, not {value!r:.60}")
    return value


def _int(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckError(f"{name} must be a whole number, not {value!r:.60}")
    return value
