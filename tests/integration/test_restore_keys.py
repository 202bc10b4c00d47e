"""The restore Lambda with explicit `keys` (what `glacierable run --function` sends), against moto."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from glacierable.clients import s3_client
from glacierable.restore_summary import RestoreRefusal, read_answer
from tests.integration.test_restore import Backup, list_restore_states_like_aws
from tests.integration.test_restore_handlers import Queue, backup, queue, restore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["backup", "queue", "restore"]  # the fixtures this module uses


def test_keys_queue_exactly_those_keys(restore: Any, queue: Queue, backup: Backup) -> None:
    keys = [backup.old_chain[1], backup.new_chain[0]]
    result = restore({"keys": keys, "tier": "Bulk"})
    assert sorted(key for batch in queue.batches() for key in batch.keys) == sorted(keys)
    assert (result["prefix"], result["to_restore_count"], result["queued"]) == ("backups/host1/", 2, 2)
    assert result["data_volume_count"] == 2


def test_keys_already_restored_are_not_queued_again(
    restore: Any, queue: Queue, backup: Backup, s3: S3Client, bucket: str, endpoint_url: str
) -> None:
    list_restore_states_like_aws(s3, truth=s3_client(endpoint_url=endpoint_url))  # as AWS lists
    done = backup.new_chain[0]
    s3.restore_object(Bucket=bucket, Key=done, RestoreRequest={"Days": 1})
    result = restore({"keys": [done, backup.new_chain[1]]})
    assert [key for batch in queue.batches() for key in batch.keys] == [backup.new_chain[1]]
    assert (result["readable_count"], result["to_restore_count"]) == (1, 1)


def test_where_the_listing_is_silent_every_archived_key_is_queued_with_a_warning(
    restore: Any, queue: Queue, backup: Backup, s3: S3Client, bucket: str
) -> None:
    # The planner reads no object: S3's answer to each request (200 for the restored one) is its state.
    done = backup.new_chain[0]
    s3.restore_object(Bucket=bucket, Key=done, RestoreRequest={"Days": 1})
    result = restore({"keys": [done, backup.new_chain[1]]})
    assert sorted(key for batch in queue.batches() for key in batch.keys) == sorted(
        [done, backup.new_chain[1]]
    )
    assert any("reports no restore states" in warning for warning in result["warnings"])


def test_keys_outside_the_stack_prefix_are_refused_before_anything_is_queued(
    restore: Any, queue: Queue, backup: Backup
) -> None:
    refusal = refused(
        restore({"keys": [backup.new_chain[0], "other/duplicity-full.20231114T221320Z.vol1.difftar.gpg"]})
    )
    assert refusal.error_type == "RequestError"
    assert re.search(r"outside this stack's prefix 'backups/': 'other/duplicity-full", refusal.message)
    assert queue.batches() == []


def test_keys_that_are_not_duplicity_files_are_refused(restore: Any, queue: Queue, backup: Backup) -> None:
    refusal = refused(restore({"keys": [backup.new_chain[0], "backups/host1/secrets.txt"]}))
    assert refusal.error_type == "RequestError"
    assert "not duplicity files: 'backups/host1/secrets.txt'" in refusal.message
    assert queue.batches() == []


def test_keys_missing_from_the_bucket_are_refused_by_name(restore: Any, queue: Queue, backup: Backup) -> None:
    missing = "backups/host1/duplicity-full.20231114T221320Z.vol9.difftar.gpg"
    refusal = refused(restore({"keys": [backup.new_chain[0], missing]}))
    assert refusal.error_type == "PlanError"
    assert re.search(f"1 of the 2 keys to restore are not in s3://.*: {missing}", refusal.message)
    assert queue.batches() == []


def refused(answer: object) -> RestoreRefusal:
    """The handler's answer, which must be a refusal (answered, not raised: no function error)."""
    refusal = read_answer(answer)
    assert isinstance(refusal, RestoreRefusal), answer
    return refusal
