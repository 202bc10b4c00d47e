"""Typed stack settings read from CDK context and validated once, before any construct is built."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from glacierable.lifecycle import (
    DEFAULT_DAYS,
    DEFAULT_STORAGE_CLASS,
    MAX_DAYS,
    MIN_DAYS,
    STORAGE_CLASSES,
)
from glacierable.prefixes import key_prefix

T = TypeVar("T")

DEFAULT_RECONCILE_DAYS = 3
MIN_RECONCILE_DAYS, MAX_RECONCILE_DAYS = 1, 365
DEFAULT_RECONCILE_SCHEDULE = "rate(1 day)"

EVENTS_EVENTBRIDGE, EVENTS_DIRECT = "eventbridge", "direct"
EVENT_DELIVERIES = (EVENTS_EVENTBRIDGE, EVENTS_DIRECT)
"""How S3's Object Created events reach the tagger. EventBridge (the default) cannot collide with an
ObjectCreated notification the bucket's owner already has; `direct` is the plain bucket notification."""

CONTEXT_KEYS = (
    "bucket",
    "prefix",
    "storage_class",
    "days",
    "create_bucket",
    "archive_unknown",
    "reconcile_days",
    "reconcile_schedule",
    "events",
    "alarm_email",
    "alarm_topic_arn",
    "notify_email",
    "notify_topic_arn",
)
"""Every context key the app reads; anything else in the context is not ours and is ignored."""

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html (EventBridge rule syntax)
_SCHEDULE = re.compile(r"(rate\(\s*\d+\s+(minute|minutes|hour|hours|day|days)\s*\)|cron\([^()]+\))")
_STACK_NAME_INVALID = re.compile(r"[^A-Za-z0-9-]+")
# Loose on purpose (SNS checks the address when it confirms): one @, no spaces, a dotted domain.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html (names: 1-256 of A-Za-z0-9_-, .fifo)
_TOPIC_ARN = re.compile(r"arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")


class SettingsError(ValueError):
    """One or more context settings are invalid; the message has one line per bad setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Validated configuration for one bucket's stack."""

    bucket: str
    prefix: str = ""
    storage_class: str = DEFAULT_STORAGE_CLASS
    days: int = DEFAULT_DAYS
    create_bucket: bool = False
    archive_unknown: bool = False
    reconcile_days: int = DEFAULT_RECONCILE_DAYS
    reconcile_schedule: str = DEFAULT_RECONCILE_SCHEDULE
    events: str = EVENTS_EVENTBRIDGE
    alarm_email: str | None = None
    alarm_topic_arn: str | None = None
    notify_email: str | None = None
    """Where "your restore is ready" messages go, when not to the alarm topic (a new topic of its own)."""
    notify_topic_arn: str | None = None

    @property
    def stack_name(self) -> str:
        """CloudFormation stack name derived from the bucket (letters, digits and hyphens only)."""
        return "Glacierable-" + _STACK_NAME_INVALID.sub("-", self.bucket).strip("-")


def load_settings(context: Mapping[str, Any]) -> Settings:
    """Validate raw context values (strings from `-c k=v` or JSON values from cdk.json) into Settings."""
    problems: list[str] = []

    def check(key: str, parse: Callable[[Any], T], default: T) -> T:
        raw = context.get(key)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
            return default

    bucket = check("bucket", _bucket_name, "")
    if "bucket" not in context or context["bucket"] is None:
        problems.append("bucket: required; pass the S3 bucket name with `-c bucket=NAME`")
    settings = Settings(
        bucket=bucket,
        prefix=check("prefix", _prefix, ""),
        storage_class=check("storage_class", _storage_class, DEFAULT_STORAGE_CLASS),
        days=check("days", _bounded_int(MIN_DAYS, MAX_DAYS), DEFAULT_DAYS),
        create_bucket=check("create_bucket", _boolean, False),
        archive_unknown=check("archive_unknown", _boolean, False),
        reconcile_days=check(
            "reconcile_days", _bounded_int(MIN_RECONCILE_DAYS, MAX_RECONCILE_DAYS), DEFAULT_RECONCILE_DAYS
        ),
        reconcile_schedule=check("reconcile_schedule", _schedule, DEFAULT_RECONCILE_SCHEDULE),
        events=check("events", _events, EVENTS_EVENTBRIDGE),
        alarm_email=check("alarm_email", _optional(_email), None),
        alarm_topic_arn=check("alarm_topic_arn", _optional(_topic_arn), None),
        notify_email=check("notify_email", _optional(_email), None),
        notify_topic_arn=check("notify_topic_arn", _optional(_topic_arn), None),
    )
    if settings.alarm_email and settings.alarm_topic_arn:
        problems.append(
            "alarm_email, alarm_topic_arn: give one or the other (a new topic with an email subscription, "
            "or an existing topic), not both"
        )
    if settings.notify_email and settings.notify_topic_arn:
        problems.append(
            "notify_email, notify_topic_arn: give one or the other (a new topic with an email subscription, "
            "or an existing topic) for restore notifications, not both; without either, they go to the "
            "alarm topic"
        )
    if problems:
        raise SettingsError(problems)
    return settings


def _bucket_name(raw: Any) -> str:
    rules = "3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"
    if not isinstance(raw, str) or not _BUCKET_NAME.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a valid S3 bucket name ({rules})")
    if ".." in raw or ".-" in raw or "-." in raw:
        raise ValueError(f"{raw!r} is not a valid S3 bucket name (no '..', '.-' or '-.')")
    if raw.startswith(_RESERVED_BUCKET_PREFIXES) or raw.endswith(_RESERVED_BUCKET_SUFFIXES):
        raise ValueError(f"{raw!r} is not a valid S3 bucket name (reserved prefix or suffix)")
    try:
        ipaddress.IPv4Address(raw)
    except ValueError:
        return raw
    raise ValueError(f"{raw!r} is not a valid S3 bucket name (formatted as an IP address)")


def _prefix(raw: Any) -> str:
    # As every command reads --prefix (duplicity's URL path): '/backups' is 'backups', 'a//b/' is 'a/b/'.
    if not isinstance(raw, str):
        raise ValueError(f"must be a string (a key prefix such as 'backups/'), got {raw!r}")
    return key_prefix(raw)


def _storage_class(raw: Any) -> str:
    value = raw.strip().upper() if isinstance(raw, str) else raw
    if value not in STORAGE_CLASSES:
        raise ValueError(f"{raw!r} is not supported; allowed: {', '.join(STORAGE_CLASSES)}")
    return str(value)


def _bounded_int(low: int, high: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        # bool is an int subclass: `true` must not silently become 1 day.
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d+\s*", raw):
            value = int(raw)
        else:
            raise ValueError(f"{raw!r} is not a whole number; allowed: {low}..{high}")
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range; allowed: {low}..{high}")
        return value

    return parse


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError(f"{raw!r} is not a boolean; allowed: true, false")


def _schedule(raw: Any) -> str:
    if not isinstance(raw, str) or not _SCHEDULE.fullmatch(raw.strip()):
        raise ValueError(
            f"{raw!r} is not an EventBridge schedule; allowed: 'rate(N minutes|hours|days)' or 'cron(...)'"
        )
    return raw.strip()


def _events(raw: Any) -> str:
    value = raw.strip().lower() if isinstance(raw, str) else raw
    if value not in EVENT_DELIVERIES:
        raise ValueError(
            f"{raw!r} is not an event delivery; allowed: eventbridge (the default: an EventBridge rule, "
            "which cannot overlap the bucket's own notifications), direct (a bucket notification)"
        )
    return str(value)


def _optional(parse: Callable[[Any], str]) -> Callable[[Any], str | None]:
    """An empty string means unset, as `-c alarm_email=` gives it."""

    def optional(raw: Any) -> str | None:
        if isinstance(raw, str) and not raw.strip():
            return None
        return parse(raw)

    return optional


def _email(raw: Any) -> str:
    if not isinstance(raw, str) or not _EMAIL.fullmatch(raw.strip()):
        raise ValueError(f"{raw!r} is not an email address (an SNS email subscription)")
    return raw.strip()


def _topic_arn(raw: Any) -> str:
    if not isinstance(raw, str) or not _TOPIC_ARN.fullmatch(raw.strip()):
        raise ValueError(f"{raw!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
    return raw.strip()
