"""Whether our archive rule is still in a bucket's lifecycle configuration, enabled and as deployed.

S3 replaces a lifecycle configuration whole on every PUT, so another tool (a console edit, Terraform, a
second stack) can drop, disable or change our rule without a word: volumes tagged `glacierable=true` then
stay in Standard, silently. The reconcile sweep checks once a run and publishes the answer as a metric with
an alarm. Rules are compared by what they do (filter, transitions, expirations), not by how S3 happens to
spell the filter (`Tag` alone, `And`, or the legacy top-level `Prefix`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import describe_error, error_code
from glacierable.lifecycle import Rule

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class RuleState(StrEnum):
    """What the check found."""

    PRESENT = "present"
    """Our rule is there, enabled, and does what the stack deployed."""
    NO_CONFIGURATION = "no_configuration"
    """The bucket has no lifecycle configuration at all (NoSuchLifecycleConfiguration)."""
    ABSENT = "absent"
    """The bucket has lifecycle rules, none with our ID."""
    DISABLED = "disabled"
    DIFFERENT = "different"
    """Our ID is there, enabled, but with another filter, transition or expiration."""
    UNREADABLE = "unreadable"
    """The configuration could not be read (AccessDenied, throttling, no endpoint): the state is unknown."""


MISSING_STATES = frozenset(
    {RuleState.NO_CONFIGURATION, RuleState.ABSENT, RuleState.DISABLED, RuleState.DIFFERENT}
)
"""States in which tagged objects are not being archived as deployed."""


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """The check's answer: a state, and a sentence naming the bucket, the rule and what is wrong."""

    state: RuleState
    detail: str

    @property
    def missing(self) -> bool:
        """Known not to be in place as deployed (an unreadable configuration is not known either way)."""
        return self.state in MISSING_STATES

    def to_json(self) -> dict[str, str]:
        return {"state": self.state.value, "detail": self.detail}


def check_archive_rule(client: S3Client, bucket: str, expected: Rule) -> RuleCheck:
    """Read the bucket's lifecycle configuration and compare its rule with `expected`'s ID to `expected`."""
    rule_id = expected["ID"]
    try:
        response = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as error:
        if error_code(error) == "NoSuchLifecycleConfiguration":
            return RuleCheck(
                RuleState.NO_CONFIGURATION,
                f"s3://{bucket} has no lifecycle configuration, so no rule {rule_id!r}: another writer "
                "deleted it; redeploy the stack (or run glacierable lifecycle) to put the rule back",
            )
        return _unreadable(bucket, rule_id, error)
    except BotoCoreError as error:
        return _unreadable(bucket, rule_id, error)
    rules: list[Rule] = [dict(rule) for rule in response.get("Rules", [])]
    return compare_rule(rules, expected, bucket=bucket)


def compare_rule(rules: Sequence[Rule], expected: Rule, *, bucket: str) -> RuleCheck:
    """Find `expected`'s ID among `rules` and say whether it is enabled and does what `expected` does."""
    rule_id = expected["ID"]
    found = [rule for rule in rules if rule.get("ID") == rule_id]
    fix = "redeploy the stack (or run glacierable lifecycle) to put it back"
    if not found:
        return RuleCheck(
            RuleState.ABSENT,
            f"s3://{bucket}'s lifecycle configuration ({len(rules)} rule(s)) has no rule {rule_id!r}: "
            f"another writer replaced it; {fix}",
        )
    rule = found[0]
    if rule.get("Status") != "Enabled":
        return RuleCheck(
            RuleState.DISABLED,
            f"rule {rule_id!r} in s3://{bucket} is {rule.get('Status')!r}, not 'Enabled': tagged objects are "
            f"not archived; {fix}",
        )
    actual, wanted = _effect(rule), _effect(expected)
    differences = [
        f"{name} {actual[name]!r} (deployed: {wanted[name]!r})"
        for name in wanted
        if actual[name] != wanted[name]
    ]
    if differences:
        return RuleCheck(
            RuleState.DIFFERENT,
            f"rule {rule_id!r} in s3://{bucket} was changed: {'; '.join(differences)}; {fix}",
        )
    return RuleCheck(RuleState.PRESENT, f"rule {rule_id!r} in s3://{bucket} is enabled and as deployed")


def _effect(rule: Rule) -> dict[str, object]:
    """What a rule does, whichever way its filter is spelled; comparable with ==."""
    filter_: Mapping[str, Any] = rule.get("Filter") or {}
    conjunction: Mapping[str, Any] = filter_.get("And") or {}

    def predicate(name: str) -> Any:
        return filter_.get(name, conjunction.get(name))

    tags = [filter_["Tag"]] if "Tag" in filter_ else list(conjunction.get("Tags") or [])
    return {
        # The legacy top-level Prefix predates Filter; S3 still returns it for rules written that way.
        "prefix": predicate("Prefix") or rule.get("Prefix") or "",
        "tags": sorted((str(tag.get("Key")), str(tag.get("Value"))) for tag in tags),
        "object size greater than": predicate("ObjectSizeGreaterThan"),
        "object size less than": predicate("ObjectSizeLessThan"),
        "transitions": sorted(
            (int(t.get("Days") or 0), str(t.get("StorageClass"))) for t in rule.get("Transitions") or []
        ),
        "noncurrent transitions": sorted(
            (int(t.get("NoncurrentDays") or 0), str(t.get("StorageClass")))
            for t in rule.get("NoncurrentVersionTransitions") or []
        ),
        # An expiration added to our rule would delete the volumes it archives.
        "expiration": rule.get("Expiration"),
        "noncurrent expiration": rule.get("NoncurrentVersionExpiration"),
    }


def _unreadable(bucket: str, rule_id: str, error: BaseException) -> RuleCheck:
    return RuleCheck(
        RuleState.UNREADABLE,
        f"cannot read s3://{bucket}'s lifecycle configuration to check rule {rule_id!r}: "
        f"{describe_error(error)}",
    )
