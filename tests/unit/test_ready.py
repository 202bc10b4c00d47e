"""Ready checks (pure): the schedule, the verdicts, the message on the queue, and what the user reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from glacierable.duplicity_command import duplicity_command
from glacierable.names import DuplicityPrefixes
from glacierable.pricing import Tier
from glacierable.ready import (
    MAX_DELAY,
    MAX_INTERVAL,
    MIN_GIVE_UP_MARGIN,
    MIN_INTERVAL,
    SUBJECT_LIMIT,
    CheckError,
    Readiness,
    ReadyCheck,
    Verdict,
    check_interval,
    hop_delay,
    message,
    ready_command,
    subject,
)
from glacierable.restore_request import RestoreRequest
from glacierable.restore_summary import NO_NOTIFICATION, RestoreSummary

T0 = 1_700_000_000
HOUR = 3600
REQUEST = RestoreRequest(
    folder="backups/host1/", tier=Tier.STANDARD, days=3, prefixes=DuplicityPrefixes("x-")
)


def first(longest_hours: float = 5, request: RestoreRequest = REQUEST) -> ReadyCheck:
    return ReadyCheck.first(
        "20231114T221320Z-1a2b3c4d", "bkt", request, restore_time=T0 - 10, now=T0, longest_hours=longest_hours
    )


NOT_YET = Readiness(total=4, readable=1, archived=1, restoring=2)
EXPIRY = datetime(2023, 11, 20, 0, 0, tzinfo=UTC)
READY = Readiness(total=4, readable=4, earliest_expiry=EXPIRY)


# --- the schedule --------------------------------------------------------------------------------------


def test_the_interval_is_an_eighth_of_the_time_elapsed_between_a_minute_and_an_hour() -> None:
    assert [check_interval(s) for s in (0, 8 * 60, 16 * 60, 4 * HOUR, 8 * HOUR, 48 * HOUR)] == [
        MIN_INTERVAL,
        MIN_INTERVAL,
        2 * 60,
        30 * 60,
        MAX_INTERVAL,
        MAX_INTERVAL,
    ]


def test_the_first_check_is_a_minute_on_and_the_marks_follow_the_tiers_longest_time() -> None:
    check = first(longest_hours=12)
    assert check.next_check_at - T0 == MIN_INTERVAL and hop_delay(check, T0) == MIN_INTERVAL
    assert (check.late_at - T0, check.give_up_at - check.late_at) == (12 * HOUR, 12 * HOUR)


def test_a_short_tier_is_still_checked_an_hour_after_it_is_late() -> None:
    check = first(longest_hours=5 / 60)  # Expedited
    assert (check.late_at - T0, check.give_up_at - check.late_at) == (300, MIN_GIVE_UP_MARGIN)


def test_a_check_due_in_more_than_fifteen_minutes_hops_at_sqs_maximum() -> None:
    check = replace(first(), next_check_at=T0 + HOUR)
    assert not check.due(T0) and hop_delay(check, T0) == MAX_DELAY
    assert hop_delay(check, T0 + HOUR - 5) == 5 and check.due(T0 + HOUR)


def test_the_next_check_grows_with_the_time_elapsed() -> None:
    check = first(longest_hours=48)
    now = T0 + 4 * HOUR
    after = check.after_check(now, Verdict.WAITING)
    assert (after.next_check_at - now, after.checks, after.late_reported) == (30 * 60, 1, False)


def test_the_next_check_never_passes_the_late_mark_or_the_last_check() -> None:
    check = first(longest_hours=5)
    assert check.after_check(check.late_at - 60, Verdict.WAITING).next_check_at == check.late_at
    late = check.after_check(check.late_at, Verdict.LATE)
    assert late.late_reported
    assert late.after_check(check.give_up_at - 60, Verdict.WAITING).next_check_at == check.give_up_at


# --- verdicts ------------------------------------------------------------------------------------------


def test_verdicts_in_order_of_precedence() -> None:
    check = first()
    assert check.verdict(READY, check.give_up_at + 1) is Verdict.READY
    assert check.verdict(NOT_YET, check.late_at - 1) is Verdict.WAITING
    assert check.verdict(NOT_YET, check.late_at) is Verdict.LATE
    assert replace(check, late_reported=True).verdict(NOT_YET, check.late_at) is Verdict.WAITING
    assert check.verdict(NOT_YET, check.give_up_at) is Verdict.GAVE_UP


# --- the message on the queue --------------------------------------------------------------------------


def test_a_check_reads_back_equal() -> None:
    check = replace(first(), checks=3, late_reported=True)
    assert ReadyCheck.from_body(check.to_body(), stack_prefix="backups/") == check


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("not json", "a ready check is JSON"),
        ("[]", "a ready check is a JSON object"),
        ('{"requested_at": "soon"}', "requested_at must be a whole number"),
    ],
)
def test_a_malformed_check_is_refused_with_what_is_wrong(body: str, words: str) -> None:
    with pytest.raises(CheckError, match=words):
        ReadyCheck.from_body(body)


def test_a_check_outside_the_stacks_prefix_is_refused() -> None:
    with pytest.raises(CheckError, match="outside this stack's prefix"):
        ReadyCheck.from_body(first().to_body(), stack_prefix="other/")


# --- what the user reads -------------------------------------------------------------------------------


def test_the_ready_message_names_the_restore_count_expiry_and_command() -> None:
    check = first()
    text = message(check, READY, Verdict.READY, T0 + HOUR)
    command = duplicity_command("bkt", "backups/host1/", T0 - 10, REQUEST.prefixes, None)
    assert text.splitlines()[0] == (
        "Restore 20231114T221320Z-1a2b3c4d is ready: all 4 object(s) it needs in s3://bkt/backups/host1/ "
        "are readable."
    )
    assert "The first restored copies expire at 2023-11-20 00:00:00 UTC: run duplicity before then." in text
    assert text.endswith(f"\n  {command}") and "--file-prefix x-" in command
    assert "(Standard tier, requested 20231114T221320Z, copies kept 3 day(s))" in text


def test_a_par2_backup_is_restored_through_a_par2_url() -> None:
    command = ready_command(first(), replace(READY, par2=True))
    assert command is not None and " par2+boto3+s3://bkt/backups/host1 " in command


def test_a_keys_restore_points_at_the_users_own_command() -> None:
    check = first(
        request=replace(REQUEST, keys=("backups/host1/duplicity-full.20231110T000000Z.vol1.difftar.gpg",))
    )
    assert ready_command(check, READY) is None
    assert "Run the duplicity command you gave `glacierable run`" in message(check, READY, Verdict.READY, T0)


def test_the_late_message_names_what_is_missing_and_when_checking_stops() -> None:
    check = first()
    text = message(check, NOT_YET, Verdict.LATE, check.late_at + HOUR // 2)
    assert "3 of 4 object(s) it needs in s3://bkt/backups/host1/ are still not readable 5.5 h after" in text
    assert "(2 restoring, 1 archived with no restore)" in text
    assert "longest documented time for these storage classes (5 h)" in text
    assert "1 object(s) are archived with no restore" in text and "run the same restore again" in text


def test_the_last_message_says_checking_has_stopped() -> None:
    check = first()
    text = message(check, replace(NOT_YET, archived=0), Verdict.GAVE_UP, check.give_up_at)
    assert "Checking has stopped: no further message will come" in text
    assert "archived with no restore (a lost" not in text


def test_subjects_fit_snss_limit() -> None:
    check = first()
    assert subject(check, Verdict.READY) == "glacierable: restore 20231114T221320Z-1a2b3c4d is ready"
    assert all(len(subject(replace(check, restore_id="r" * 200), v)) <= SUBJECT_LIMIT for v in Verdict)


# --- the restore answer's `notify` ---------------------------------------------------------------------


def test_notify_reads_back_and_is_absent_when_unsaid(summary_json: dict[str, object]) -> None:
    assert "notify" not in summary_json and RestoreSummary.from_json(summary_json).notify is None
    told = RestoreSummary.from_json({**summary_json, "notify": "arn:aws:sns:us-east-1:123456789012:t"})
    assert told.notifies and told.to_json()["notify"] == "arn:aws:sns:us-east-1:123456789012:t"
    silent = RestoreSummary.from_json({**summary_json, "notify": NO_NOTIFICATION})
    assert not silent.notifies


@pytest.fixture
def summary_json() -> dict[str, object]:
    chain = {
        "restore_time": T0,
        "full_time": T0 - 100,
        "incremental_times": [],
        "later_incremental_times": [],
        "volume_count": 1,
        "volume_bytes": 1,
    }
    groups = ("needed", "to_restore", "readable", "in_progress")
    return {
        "restore_id": "r",
        "bucket": "b",
        "prefix": "",
        "time": "now",
        "restore_time": T0,
        "tier": "Standard",
        "days": 1,
        "dry_run": False,
        "par2": False,
        "chain": chain,
        "data_volume_count": 1,
        **{f"{group}_count": 0 for group in groups},
        **{f"{group}_bytes": 0 for group in groups},
        "warnings": [],
        "cost": None,
    }
