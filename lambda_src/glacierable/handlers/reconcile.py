"""Scheduled sweep: tag objects modified in the last few days, so a lost S3 event never strands a volume.

Environment: BUCKET, PREFIX, RECONCILE_DAYS, ARCHIVE_UNKNOWN; and ARCHIVE_RULE_ID with ARCHIVE_STORAGE_CLASS
and ARCHIVE_DAYS, the archive rule the stack deployed: each run first checks that the bucket's lifecycle
configuration still holds it, enabled and unchanged, and publishes `ArchiveRuleMissing` (1 or 0), or
`ArchiveRuleUnchecked` = 1 when the configuration cannot be read. After the sweep (so that what it just
tagged is not reported untagged) it runs `glacierable check` over the prefix and publishes `CheckProblems`,
logging each problem, when at least CHECK_MIN_REMAINING_MS of the invocation are left. Neither check ever
stops the sweep.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from glacierable.backfill import BackfillSummary, backfill
from glacierable.check import CheckReport
from glacierable.check_store import check_bucket
from glacierable.clients import s3_client
from glacierable.env import ConfigError as ConfigError  # the handler raises it: part of its interface
from glacierable.env import env_bool
from glacierable.handlers.lazy import LazyClient
from glacierable.lifecycle import LifecycleError, Rule, our_rules, validate_days, validate_storage_class
from glacierable.lifecycle_check import RuleCheck, RuleState, check_archive_rule
from glacierable.prefixes import PrefixError, key_prefix
from glacierable.tagging import Action
from glacierable.text import first_and_more

DEFAULT_DAYS = 3
CONCURRENCY = 32
CHECK_MIN_REMAINING_MS = 5 * 60 * 1000
"""The check lists the whole prefix again: leave it the time a million-key listing takes at 1024 MB."""
# A log line or exception message is no place for thousands of keys; the count says the rest.
MAX_KEYS_REPORTED = 20

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Glacierable"))
s3 = LazyClient(lambda: s3_client(max_pool_connections=CONCURRENCY))


class ReconcileFailed(RuntimeError):
    """Some objects could not be tagged; raised after all others were done, so the invocation is an error."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The sweep's configuration, read from the function's environment."""

    bucket: str
    prefix: str = ""
    days: int = DEFAULT_DAYS
    archive_unknown: bool = False
    archive_rule: Rule | None = None
    """The rule to find in the bucket's lifecycle configuration; None: no check (ARCHIVE_RULE_ID unset)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        bucket = env.get("BUCKET", "").strip()
        if not bucket:
            raise ConfigError("environment variable BUCKET is required (the bucket to reconcile)")
        raw_days = env.get("RECONCILE_DAYS", str(DEFAULT_DAYS)).strip()
        try:
            days = int(raw_days)
        except ValueError:
            raise ConfigError(f"RECONCILE_DAYS must be a whole number of days, got {raw_days!r}") from None
        if days < 1:
            raise ConfigError(f"RECONCILE_DAYS must be at least 1, got {days}")
        try:
            prefix = key_prefix(env.get("PREFIX", ""))
        except PrefixError as error:
            raise ConfigError(f"PREFIX {error}") from None
        return cls(
            bucket=bucket,
            prefix=prefix,
            days=days,
            archive_unknown=env_bool(env, "ARCHIVE_UNKNOWN"),
            archive_rule=_archive_rule(env, prefix),
        )


def _archive_rule(env: Mapping[str, str], prefix: str) -> Rule | None:
    rule_id = env.get("ARCHIVE_RULE_ID", "").strip()
    if not rule_id:
        return None
    raw_class, raw_days = env.get("ARCHIVE_STORAGE_CLASS", "").strip(), env.get("ARCHIVE_DAYS", "").strip()
    try:
        storage_class = validate_storage_class(raw_class, setting="ARCHIVE_STORAGE_CLASS")
        if not raw_days.isdigit():
            raise LifecycleError(f"ARCHIVE_DAYS must be a whole number of days, got {raw_days!r}")
        days = validate_days(int(raw_days), setting="ARCHIVE_DAYS")
    except LifecycleError as error:
        raise ConfigError(f"{error} (ARCHIVE_RULE_ID is set: the rule's settings are required)") from None
    (archive, _) = our_rules(prefix=prefix, storage_class=storage_class, days=days)
    return {**archive, "ID": rule_id}


def _now() -> datetime:
    return datetime.now(UTC)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Tag every object under PREFIX modified in the last RECONCILE_DAYS days (the event is ignored)."""
    settings = Settings.from_env(os.environ)
    since = _now() - timedelta(days=settings.days)
    logger.info(
        "reconcile started",
        extra={"bucket": settings.bucket, "prefix": settings.prefix, "modified_since": since.isoformat()},
    )
    # First, so that its metric is published even when the sweep's listing fails.
    rule_check = _check_rule(settings) if settings.archive_rule is not None else None
    summary = backfill(
        s3(),
        settings.bucket,
        prefix=settings.prefix,
        archive_unknown=settings.archive_unknown,
        concurrency=CONCURRENCY,
        modified_since=since,
    )
    _publish(summary)
    # With nothing listed there is nothing to check, and the warning below says why.
    health = _check_backups(settings, context) if summary.listed else None
    if settings.prefix and summary.listed == 0:
        # A PREFIX that names no folder duplicity writes would otherwise sweep nothing, silently, every day.
        logger.warning(
            "nothing listed under the prefix: check the stack's prefix",
            extra={"bucket": settings.bucket, "prefix": settings.prefix},
        )
    if not summary.ok:
        failed = summary.failed
        raise ReconcileFailed(
            f"{len(failed)} of {summary.processed} objects in s3://{settings.bucket}/{settings.prefix} "
            f"could not be tagged: {first_and_more([f.key for f in failed], MAX_KEYS_REPORTED)}"
        )
    result = _brief(summary)
    if rule_check is not None:
        result["archive_rule"] = rule_check.to_json()
    if health is not None:
        result["check"] = health.to_json()
    return result


def _check_backups(settings: Settings, context: LambdaContext) -> CheckReport | None:
    """`glacierable check` over the prefix: log each problem, publish the count; never raises."""
    remaining = context.get_remaining_time_in_millis()
    if remaining < CHECK_MIN_REMAINING_MS:
        logger.warning("backup check skipped: too little time left", extra={"remaining_ms": remaining})
        return None
    try:
        # No overlap finder: a deployed stack's own delivery is in place, and it lacks the permission.
        report = check_bucket(
            s3(),
            settings.bucket,
            settings.prefix,
            now=int(_now().timestamp()),
            concurrency=CONCURRENCY,
            find_overlaps=None,
        )
    except Exception:  # a bug or an outage in the check must not fail a sweep that tagged everything
        logger.exception("backup check failed")
        return None
    for problem in report.problems[:MAX_KEYS_REPORTED]:
        logger.warning("backup problem", extra=problem.to_json())
    logger.info("backup check finished", extra=report.to_json())
    metrics.add_metric(name="CheckProblems", unit=MetricUnit.Count, value=report.problem_count)
    return report


def _check_rule(settings: Settings) -> RuleCheck:
    """Check the archive rule, log and publish the answer; never raises (the sweep must still run)."""
    assert settings.archive_rule is not None
    try:
        check = check_archive_rule(s3(), settings.bucket, settings.archive_rule)
    except Exception as error:  # a bug in the check must not leave the bucket's objects untagged
        logger.exception("archive rule check failed")
        check = RuleCheck(RuleState.UNREADABLE, f"the archive rule check failed: {error!r}")
    extra = {"bucket": settings.bucket, "rule_id": settings.archive_rule["ID"], **check.to_json()}
    if check.state is RuleState.PRESENT:
        logger.info("archive rule present", extra=extra)
    elif check.missing:
        logger.error("archive rule missing", extra=extra)
    else:
        logger.error("archive rule not checked", extra=extra)
    if check.state is not RuleState.UNREADABLE:  # unknown is neither 0 nor 1: ArchiveRuleUnchecked says so
        metrics.add_metric(name="ArchiveRuleMissing", unit=MetricUnit.Count, value=int(check.missing))
    metrics.add_metric(
        name="ArchiveRuleUnchecked", unit=MetricUnit.Count, value=int(check.state is RuleState.UNREADABLE)
    )
    return check


def _brief(summary: BackfillSummary) -> dict[str, Any]:
    result = summary.to_dict()
    result["failed"] = result["failed"][:MAX_KEYS_REPORTED]
    return result


def _publish(summary: BackfillSummary) -> None:
    for failure in summary.failed:
        logger.error("object not tagged", extra={"key": failure.key, "error": failure.error})
    logger.info("reconcile finished", extra=_brief(summary))
    metrics.add_metric(name="ReconcileListed", unit=MetricUnit.Count, value=summary.listed)
    metrics.add_metric(name="ReconcileTaggedTrue", unit=MetricUnit.Count, value=_tagged(summary, True))
    metrics.add_metric(name="ReconcileTaggedFalse", unit=MetricUnit.Count, value=_tagged(summary, False))
    metrics.add_metric(name="ReconcileKept", unit=MetricUnit.Count, value=summary.actions[Action.KEPT])
    metrics.add_metric(name="ReconcileGone", unit=MetricUnit.Count, value=summary.actions[Action.GONE])
    metrics.add_metric(name="ReconcileFailed", unit=MetricUnit.Count, value=len(summary.failed))


def _tagged(summary: BackfillSummary, value: bool) -> int:
    # Objects the sweep itself tagged are events the tagger missed: the interesting number.
    return summary.tagged_by_decision[value]
