"""Read and write a bucket's lifecycle configuration, adding or removing only glacierable's rules.

S3 has no conditional write for lifecycle configurations (no ETag, no If-Match), so every change is a
read-modify-write: a rule another writer puts between our GET and our PUT is lost. Run one deploy or
`glacierable lifecycle` command per bucket at a time; we skip the PUT entirely when nothing of ours
changes, which keeps redeploys and reruns out of that window. A write that meets another configuration
write in progress (409 OperationAborted) is sent again after a pause (glacierable.bucket_config); the other
write is most often to another part of the bucket's configuration (our notification resource, the owner's
tags or policy), which our lifecycle write cannot undo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from glacierable.aws_errors import error_code
from glacierable.bucket_config import retry_conflicts
from glacierable.lifecycle import (
    DEFAULT_DAYS,
    DEFAULT_STORAGE_CLASS,
    Rule,
    merge_rules,
    our_rules,
    remove_rules,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import LifecycleRuleTypeDef


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """A bucket's lifecycle rules, plus the size setting S3 returns beside them."""

    rules: list[Rule] = field(default_factory=list)
    transition_default_minimum_object_size: str | None = None
    """`all_storage_classes_128K` (S3's default) or `varies_by_storage_class`; kept as the owner set it."""


def read_config(client: S3Client, bucket: str) -> LifecycleConfig:
    """The bucket's lifecycle configuration; empty when it has none."""
    try:
        response = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchLifecycleConfiguration":
            return LifecycleConfig()
        raise
    rules: list[Rule] = [dict(rule) for rule in response.get("Rules", [])]
    return LifecycleConfig(rules, response.get("TransitionDefaultMinimumObjectSize"))


def read_rules(client: S3Client, bucket: str) -> list[Rule]:
    """The bucket's lifecycle rules ([] when it has no configuration)."""
    return read_config(client, bucket).rules


def write_config(
    client: S3Client, bucket: str, config: LifecycleConfig, *, sleep: Callable[[float], None] | None = None
) -> None:
    """Replace the bucket's lifecycle configuration; no rules deletes it (S3 rejects an empty list).

    Retried after 409 OperationAborted with back-off; ConfigurationConflictError once every attempt met one.
    """
    if not config.rules:
        retry_conflicts(
            lambda: client.delete_bucket_lifecycle(Bucket=bucket),
            what=f"DeleteBucketLifecycle on s3://{bucket}",
            sleep=sleep,
        )
        return
    kwargs: dict[str, Any] = {}
    if config.transition_default_minimum_object_size:
        # Omitting it on PUT resets the owner's choice to S3's default.
        kwargs["TransitionDefaultMinimumObjectSize"] = config.transition_default_minimum_object_size
    rules = cast("list[LifecycleRuleTypeDef]", config.rules)
    retry_conflicts(
        lambda: client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}, **kwargs
        ),
        what=f"PutBucketLifecycleConfiguration on s3://{bucket}",
        sleep=sleep,
    )


def replace_rules(
    client: S3Client,
    bucket: str,
    config: LifecycleConfig,
    rules: Sequence[Rule],
    *,
    sleep: Callable[[float], None] | None = None,
) -> bool:
    """Write `rules` in place of `config.rules` (keeping its size setting) unless equal; True if it wrote."""
    if list(rules) == config.rules:
        return False
    replacement = LifecycleConfig(list(rules), config.transition_default_minimum_object_size)
    write_config(client, bucket, replacement, sleep=sleep)
    return True


def plan_apply(
    client: S3Client,
    bucket: str,
    *,
    prefix: str = "",
    storage_class: str = DEFAULT_STORAGE_CLASS,
    days: int = DEFAULT_DAYS,
) -> tuple[LifecycleConfig, list[Rule]]:
    """The bucket's current configuration and the rules `apply_rules` would write (no write)."""
    ours = our_rules(prefix=prefix, storage_class=storage_class, days=days)
    config = read_config(client, bucket)
    return config, merge_rules(config.rules, ours)


def plan_remove(client: S3Client, bucket: str) -> tuple[LifecycleConfig, list[Rule]]:
    """The bucket's current configuration and the rules `remove_our_rules` would leave (no write)."""
    config = read_config(client, bucket)
    return config, remove_rules(config.rules)


def apply_rules(
    client: S3Client,
    bucket: str,
    *,
    prefix: str = "",
    storage_class: str = DEFAULT_STORAGE_CLASS,
    days: int = DEFAULT_DAYS,
    sleep: Callable[[float], None] | None = None,
) -> list[Rule]:
    """Add or replace our rules in the bucket's configuration; returns the rules now configured."""
    config, merged = plan_apply(client, bucket, prefix=prefix, storage_class=storage_class, days=days)
    replace_rules(client, bucket, config, merged, sleep=sleep)
    return merged


def remove_our_rules(client: S3Client, bucket: str, *, sleep: Callable[[float], None] | None = None) -> bool:
    """Remove our rules from the bucket's configuration, keeping the owner's; True if any were there."""
    config, remaining = plan_remove(client, bucket)
    return replace_rules(client, bucket, config, remaining, sleep=sleep)
