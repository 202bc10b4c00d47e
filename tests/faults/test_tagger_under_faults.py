"""The tagger Lambda over 2,000 ObjectCreated events through SlowDown, InternalError and dropped connections.

Each event carries one record, as S3 sends them; 16 execution environments (processes) handle them at once,
their clients pointing at the fault proxy. An invocation that cannot tag its object raises, naming it, and
Lambda retries that event: the retry must finish the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glacierable import TAG_KEY
from glacierable.classify import is_glacierable
from glacierable_dev.fault_proxy import Fate, LatencyProxy
from tests.faults import (
    ISSUE_FAULTS,
    backup_keys,
    created_event,
    invoke_all,
    put_objects,
    tagger_environments,
    tags_in_s3,
    unanswered,
    wrong,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

EVENTS = 2000
ENVIRONMENTS = 16
FOLDER = "my backups/host+1/"  # encoded in events as "my+backups/host%2B1/"


def test_tagger_over_2000_events_tags_every_object_or_fails_exactly_the_invocations_left(
    fault_proxy: LatencyProxy, s3: S3Client, bucket: str
) -> None:
    keys = [*backup_keys(EVENTS - 40, FOLDER), *(f"{FOLDER}notes {i}.txt" for i in range(40))]
    put_objects(s3, bucket, keys)
    expected = {key: {TAG_KEY: "true" if is_glacierable(key) else "false"} for key in keys}
    events = [created_event(bucket, key) for key in keys]
    fault_proxy.settings = ISSUE_FAULTS

    with tagger_environments(fault_proxy.url, ENVIRONMENTS) as environments:
        errors = invoke_all(environments, events)
        left = wrong(tags_in_s3(s3, bucket, keys), expected)
        failed = {key: error for key, error in zip(keys, errors, strict=True) if error is not None}

        print(f"\nfirst delivery: {len(failed)} failed invocations, counts {dict(fault_proxy.counts())}")
        assert all(fault_proxy.counts()[fate] for fate in Fate if fate is not Fate.BAD_GATEWAY)
        for key, error in failed.items():
            assert f"s3://{bucket}/{key} (" in error, error
        # An invocation whose PUT S3 carried out but never answered fails too: the client cannot know.
        assert left <= failed.keys() <= left | unanswered(fault_proxy, bucket, "PutObjectTagging")
        retried = invoke_all(environments, [created_event(bucket, key) for key in failed])

    assert retried == [None] * len(failed)
    assert wrong(tags_in_s3(s3, bucket, keys), expected) == set()
