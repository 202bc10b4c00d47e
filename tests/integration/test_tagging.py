"""tag_object against a moto S3 server: one GET, a PUT only when needed, versions, gone and full tag sets."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from glacierable import TAG_KEY
from glacierable.tagging import Action, TagResult, tag_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

VOLUME = "backups/host1/duplicity-full.20231114T221320Z.vol1.difftar.gpg"
MANIFEST = "backups/host1/duplicity-full.20231114T221320Z.manifest.gpg"
UNKNOWN = "backups/notes.txt"


def count_calls(client: S3Client) -> Counter[str]:
    """Count S3 operations made by `client` from now on, by operation name."""
    calls: Counter[str] = Counter()

    def on_call(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.s3.*", on_call)
    return calls


def fail_get_tagging(client: S3Client, code: str, status: int) -> None:
    """Make every GetObjectTagging by `client` fail with `code` (as S3 would, after botocore's retries)."""

    def raise_error(**_: Any) -> None:
        response: Any = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        raise ClientError(response, "GetObjectTagging")

    client.meta.events.register("before-parameter-build.s3.GetObjectTagging", raise_error)


def tags_of(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(**kwargs)["TagSet"]}


def put(s3: S3Client, bucket: str, key: str, tagging: str = "") -> str | None:
    return s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging=tagging).get("VersionId")


def test_volume_is_tagged_true(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, VOLUME)
    assert tag_object(s3, bucket, VOLUME) == TagResult(VOLUME, None, True, Action.TAGGED)
    assert tags_of(s3, bucket, VOLUME) == {TAG_KEY: "true"}


def test_manifest_is_tagged_false(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, MANIFEST)
    assert tag_object(s3, bucket, MANIFEST) == TagResult(MANIFEST, None, False, Action.TAGGED)
    assert tags_of(s3, bucket, MANIFEST) == {TAG_KEY: "false"}


def test_unknown_key_is_false_unless_archive_unknown(s3: S3Client, bucket: str) -> None:
    other = "backups/other.txt"
    put(s3, bucket, UNKNOWN)
    put(s3, bucket, other)
    assert tag_object(s3, bucket, UNKNOWN).glacierable is False
    assert tag_object(s3, bucket, other, archive_unknown=True).glacierable is True
    assert tags_of(s3, bucket, UNKNOWN) == {TAG_KEY: "false"}
    assert tags_of(s3, bucket, other) == {TAG_KEY: "true"}


def test_key_with_spaces_and_unicode_is_tagged(s3: S3Client, bucket: str) -> None:
    key = "my backups/café 日本/duplicity-inc.20231114T221320Z.to.20231115T221320Z.vol2.difftar.gz"
    put(s3, bucket, key)
    assert tag_object(s3, bucket, key).action is Action.TAGGED
    assert tags_of(s3, bucket, key) == {TAG_KEY: "true"}


def test_other_tags_are_kept(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, VOLUME, tagging="owner=ops&cost-center=42")
    tag_object(s3, bucket, VOLUME)
    assert tags_of(s3, bucket, VOLUME) == {"owner": "ops", "cost-center": "42", TAG_KEY: "true"}


def test_first_tagging_costs_one_get_and_one_put(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, VOLUME)
    calls = count_calls(s3)
    tag_object(s3, bucket, VOLUME)
    assert calls == Counter({"GetObjectTagging": 1, "PutObjectTagging": 1})


def test_redelivery_costs_one_get_and_no_put(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, VOLUME)
    tag_object(s3, bucket, VOLUME)
    calls = count_calls(s3)
    assert tag_object(s3, bucket, VOLUME).action is Action.KEPT
    assert calls == Counter({"GetObjectTagging": 1})


def test_operator_override_is_kept(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, VOLUME, tagging=f"{TAG_KEY}=false")
    assert tag_object(s3, bucket, VOLUME) == TagResult(VOLUME, None, True, Action.KEPT)
    assert tags_of(s3, bucket, VOLUME) == {TAG_KEY: "false"}


def test_versioned_bucket_tags_the_given_version_not_the_latest(s3: S3Client, versioned_bucket: str) -> None:
    old = put(s3, versioned_bucket, VOLUME)
    new = put(s3, versioned_bucket, VOLUME)
    assert old and new and old != new
    result = tag_object(s3, versioned_bucket, VOLUME, version_id=old)
    assert result == TagResult(VOLUME, old, True, Action.TAGGED)
    assert tags_of(s3, versioned_bucket, VOLUME, old) == {TAG_KEY: "true"}
    assert tags_of(s3, versioned_bucket, VOLUME, new) == {}


def test_versioned_redelivery_checks_the_given_version(s3: S3Client, versioned_bucket: str) -> None:
    old = put(s3, versioned_bucket, VOLUME)
    new = put(s3, versioned_bucket, VOLUME)
    tag_object(s3, versioned_bucket, VOLUME, version_id=new)
    # The latest version is tagged, the old one is not: the old one's event must still tag it.
    assert tag_object(s3, versioned_bucket, VOLUME, version_id=old).action is Action.TAGGED
    assert tag_object(s3, versioned_bucket, VOLUME, version_id=new).action is Action.KEPT


def test_missing_key_is_gone_without_a_put(s3: S3Client, bucket: str) -> None:
    calls = count_calls(s3)
    assert tag_object(s3, bucket, VOLUME) == TagResult(VOLUME, None, True, Action.GONE)
    assert calls == Counter({"GetObjectTagging": 1})


def test_deleted_version_is_gone(s3: S3Client, versioned_bucket: str) -> None:
    old = put(s3, versioned_bucket, VOLUME)
    put(s3, versioned_bucket, VOLUME)
    assert old
    s3.delete_object(Bucket=versioned_bucket, Key=VOLUME, VersionId=old)
    assert tag_object(s3, versioned_bucket, VOLUME, version_id=old).action is Action.GONE


def test_ten_tags_is_too_many_and_nothing_is_written(s3: S3Client, bucket: str) -> None:
    ten = "&".join(f"k{i}=v{i}" for i in range(10))
    put(s3, bucket, VOLUME, tagging=ten)
    calls = count_calls(s3)
    assert tag_object(s3, bucket, VOLUME) == TagResult(VOLUME, None, True, Action.TOO_MANY_TAGS)
    assert calls == Counter({"GetObjectTagging": 1})
    assert tags_of(s3, bucket, VOLUME) == {f"k{i}": f"v{i}" for i in range(10)}


def test_missing_bucket_is_an_error_not_gone(s3: S3Client) -> None:
    with pytest.raises(ClientError) as caught:
        tag_object(s3, "no-such-bucket-glacierable-test", VOLUME)
    assert caught.value.response["Error"]["Code"] == "NoSuchBucket"


def test_server_error_propagates(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, VOLUME)
    fail_get_tagging(s3, "InternalError", 500)
    with pytest.raises(ClientError, match="InternalError"):
        tag_object(s3, bucket, VOLUME)


def test_invalid_object_state_propagates_rather_than_being_counted_done(s3: S3Client, bucket: str) -> None:
    # AWS tags archived objects; moto refuses with InvalidObjectState. Either way it must be reported.
    s3.put_object(Bucket=bucket, Key=VOLUME, Body=b"x", StorageClass="GLACIER")
    with pytest.raises(ClientError) as caught:
        tag_object(s3, bucket, VOLUME)
    assert caught.value.response["Error"]["Code"] == "InvalidObjectState"


# --- fallback_key: the key as an event delivered it, when its encoding is uncertain ---

RAW = "backups/c++ 100%25/duplicity-full.20231114T221320Z.vol1.difftar.gpg"
DECODED = "backups/c   100%/duplicity-full.20231114T221320Z.vol1.difftar.gpg"  # unquote_plus(RAW)


def test_fallback_key_is_tagged_when_the_key_is_missing(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, RAW)
    assert tag_object(s3, bucket, DECODED, fallback_key=RAW) == TagResult(RAW, None, True, Action.TAGGED)
    assert tags_of(s3, bucket, RAW) == {TAG_KEY: "true"}


def test_fallback_key_is_not_read_when_the_key_exists(s3: S3Client, bucket: str) -> None:
    put(s3, bucket, DECODED)
    put(s3, bucket, RAW)
    calls = count_calls(s3)
    assert tag_object(s3, bucket, DECODED, fallback_key=RAW).key == DECODED
    assert calls == Counter({"GetObjectTagging": 1, "PutObjectTagging": 1})
    assert tags_of(s3, bucket, RAW) == {}


def test_gone_under_both_keys_is_gone_named_by_the_key(s3: S3Client, bucket: str) -> None:
    calls = count_calls(s3)
    assert tag_object(s3, bucket, DECODED, fallback_key=RAW) == TagResult(DECODED, None, True, Action.GONE)
    assert calls == Counter({"GetObjectTagging": 2})


def test_fallback_equal_to_the_key_costs_no_second_call(s3: S3Client, bucket: str) -> None:
    calls = count_calls(s3)
    assert tag_object(s3, bucket, VOLUME, fallback_key=VOLUME).action is Action.GONE
    assert calls == Counter({"GetObjectTagging": 1})


def test_fallback_keeps_the_version(s3: S3Client, versioned_bucket: str) -> None:
    old = put(s3, versioned_bucket, RAW)
    put(s3, versioned_bucket, RAW)
    result = tag_object(s3, versioned_bucket, DECODED, version_id=old, fallback_key=RAW)
    assert result == TagResult(RAW, old, True, Action.TAGGED)
    assert tags_of(s3, versioned_bucket, RAW, old) == {TAG_KEY: "true"}
