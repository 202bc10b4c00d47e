"""The fault proxy itself: each fault as a raw HTTP client sees it, its counters, and its seed."""

from __future__ import annotations

import http.client
import random
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from glacierable_dev.fault_proxy import Fate, Handled, LatencyProxy, ProxySettings
from glacierable_dev.s3_operations import s3_operation

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def connect(proxy: LatencyProxy) -> http.client.HTTPConnection:
    parts = urlsplit(proxy.url)
    assert parts.hostname and parts.port
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def send(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    connection.request(method, path, body=body)
    response = connection.getresponse()
    return response.status, response.read()


def exists(s3: S3Client, bucket: str, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))


def test_slowdown_is_a_503_with_s3s_error_body_and_the_connection_stays_usable(
    fault_proxy: LatencyProxy, s3: S3Client, bucket: str
) -> None:
    fault_proxy.settings = ProxySettings(latency=0.0, slowdown=1.0)
    connection = connect(fault_proxy)

    status, body = send(connection, "PUT", f"/{bucket}/k", b"data")
    connection.request("GET", f"/{bucket}?list-type=2")  # same connection
    again = connection.getresponse()
    again.read()

    assert status == 503
    assert b"<Code>SlowDown</Code>" in body and body.startswith(b"<?xml")
    assert again.status == 503
    assert not exists(s3, bucket, "k")
    assert fault_proxy.handled() == [
        Handled("PutObject", f"/{bucket}/k", Fate.SLOWDOWN),
        Handled("ListObjectsV2", f"/{bucket}", Fate.SLOWDOWN),
    ]


def test_slowdown_to_a_head_has_no_body(fault_proxy: LatencyProxy, bucket: str) -> None:
    fault_proxy.settings = ProxySettings(latency=0.0, slowdown=1.0)
    connection = connect(fault_proxy)

    status, body = send(connection, "HEAD", f"/{bucket}/k")
    fault_proxy.settings = ProxySettings(latency=0.0)
    # Parses only if the HEAD's answer carried no body bytes.
    after, _ = send(connection, "GET", f"/{bucket}?list-type=2")

    assert (status, body, after) == (503, b"", 200)


def test_internal_error_is_a_500_with_s3s_error_body(
    fault_proxy: LatencyProxy, s3: S3Client, bucket: str
) -> None:
    fault_proxy.settings = ProxySettings(latency=0.0, internal_error=1.0)

    status, body = send(connect(fault_proxy), "PUT", f"/{bucket}/k", b"data")

    assert status == 500
    assert b"<Code>InternalError</Code>" in body
    assert not exists(s3, bucket, "k")
    assert fault_proxy.counts()[Fate.INTERNAL_ERROR] == 1


def test_a_dropped_request_closes_the_connection_and_never_reaches_the_emulator(
    fault_proxy: LatencyProxy, s3: S3Client, bucket: str
) -> None:
    fault_proxy.settings = ProxySettings(latency=0.0, drop=1.0)

    with pytest.raises(http.client.RemoteDisconnected):
        send(connect(fault_proxy), "PUT", f"/{bucket}/k", b"data")

    assert not exists(s3, bucket, "k")
    assert fault_proxy.counts()[Fate.DROPPED] == 1
    assert fault_proxy.requests == 0


def test_a_dropped_response_closes_the_connection_after_the_emulator_acted(
    fault_proxy: LatencyProxy, s3: S3Client, bucket: str
) -> None:
    fault_proxy.settings = ProxySettings(latency=0.0, drop_response=1.0)

    with pytest.raises(http.client.RemoteDisconnected):
        send(connect(fault_proxy), "PUT", f"/{bucket}/k", b"data")

    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    assert fault_proxy.reached("PutObject") == Counter({f"/{bucket}/k": 1})


def test_counters_match_what_the_client_saw(fault_proxy: LatencyProxy, bucket: str) -> None:
    fault_proxy.settings = ProxySettings(
        latency=0.0, slowdown=0.2, internal_error=0.1, drop=0.05, drop_response=0.05, seed=3
    )
    seen: Counter[str] = Counter()
    connection = connect(fault_proxy)
    for _ in range(300):
        try:
            status, _ = send(connection, "GET", f"/{bucket}?list-type=2")
        except (http.client.RemoteDisconnected, ConnectionError):
            seen["closed"] += 1
            connection = connect(fault_proxy)
            continue
        seen[str(status)] += 1

    counts = fault_proxy.counts()
    assert seen == {
        "200": counts[Fate.FORWARDED],
        "503": counts[Fate.SLOWDOWN],
        "500": counts[Fate.INTERNAL_ERROR],
        "closed": counts[Fate.DROPPED] + counts[Fate.DROPPED_RESPONSE],
    }
    assert 30 <= counts[Fate.SLOWDOWN] <= 90 and counts[Fate.FORWARDED] >= 150  # about 20% and 60%
    assert fault_proxy.counts_by_operation() == {"ListObjectsV2": +counts}
    assert fault_proxy.requests == counts[Fate.FORWARDED] + counts[Fate.DROPPED_RESPONSE]


def decisions(seed: int, targets: list[str]) -> dict[str, Fate]:
    proxy = LatencyProxy("http://127.0.0.1:1", ProxySettings(slowdown=0.3, drop=0.1, seed=seed))
    return {target: proxy.decide("GET", target, "GetObject") for target in targets}


def test_the_same_seed_gives_the_same_faults_in_any_order() -> None:
    targets = [f"/b/key{i}" for i in range(500)]
    shuffled = random.Random(1).sample(targets, len(targets))

    assert decisions(7, targets) == decisions(7, shuffled)
    assert decisions(7, targets) != decisions(8, targets)
    assert Counter(decisions(7, targets).values())[Fate.SLOWDOWN] in range(110, 190)  # about 30%


def test_a_repeated_request_gets_a_fresh_draw() -> None:
    proxy = LatencyProxy("http://127.0.0.1:1", ProxySettings(slowdown=0.5, seed=1))

    fates = [proxy.decide("POST", "/b/k?restore", "RestoreObject") for _ in range(40)]

    assert {Fate.SLOWDOWN, Fate.FORWARDED} == set(fates)  # a retry is not doomed to the first fate


def test_faults_can_be_limited_to_some_operations(fault_proxy: LatencyProxy, bucket: str) -> None:
    fault_proxy.settings = ProxySettings(latency=0.0, slowdown=1.0, operations=frozenset({"RestoreObject"}))
    connection = connect(fault_proxy)

    listing, _ = send(connection, "GET", f"/{bucket}?list-type=2")
    restore, _ = send(connection, "POST", f"/{bucket}/k?restore", b"<RestoreRequest/>")

    assert (listing, restore) == (200, 503)


def test_botocore_requests_are_named_by_their_s3_operation(
    fault_proxy: LatencyProxy, faulty_s3: S3Client, bucket: str
) -> None:
    key = "dir/a b+c%d"
    faulty_s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    faulty_s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    faulty_s3.get_object_tagging(Bucket=bucket, Key=key)
    faulty_s3.head_object(Bucket=bucket, Key=key)
    faulty_s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    faulty_s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 1})
    faulty_s3.list_objects_v2(Bucket=bucket)

    assert [(h.operation, h.path) for h in fault_proxy.handled()] == [
        ("PutObject", f"/{bucket}/{key}"),
        ("PutObjectTagging", f"/{bucket}/{key}"),
        ("GetObjectTagging", f"/{bucket}/{key}"),
        ("HeadObject", f"/{bucket}/{key}"),
        ("PutObject", f"/{bucket}/cold"),
        ("RestoreObject", f"/{bucket}/cold"),
        ("ListObjectsV2", f"/{bucket}"),
    ]


def test_operation_names_of_bucket_requests() -> None:
    assert s3_operation("PUT", "/b") == "CreateBucket"
    assert s3_operation("PUT", "/b?lifecycle") == "PutBucketLifecycleConfiguration"
    assert s3_operation("GET", "/b?versions") == "ListObjectVersions"
    assert s3_operation("POST", "/moto-api/reset") == "Other"


def test_botocore_retries_through_every_fault_kind(
    fault_proxy: LatencyProxy, faulty_s3: S3Client, s3: S3Client, bucket: str
) -> None:
    fault_proxy.settings = ProxySettings(
        latency=0.0, slowdown=0.1, internal_error=0.1, drop=0.1, drop_response=0.1, seed=5
    )

    kinds = [fate for fate in Fate if fate is not Fate.BAD_GATEWAY]
    puts = 0
    while not all(fault_proxy.counts()[fate] for fate in kinds):
        assert puts < 60, f"not every fault kind was drawn: {fault_proxy.counts()}"
        faulty_s3.put_object(Bucket=bucket, Key=f"k{puts}", Body=b"x")
        puts += 1

    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == puts


def test_invalid_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to at most 1"):
        ProxySettings(slowdown=0.6, internal_error=0.6)
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        ProxySettings(drop=-0.1)
