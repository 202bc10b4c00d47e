"""One rule for every prefix: duplicity's own reading of its S3 URL path (checked against duplicity)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glacierable.prefixes import MAX_PREFIX_LENGTH, PrefixError, duplicity_url, folder, key_prefix


@pytest.mark.parametrize(
    ("given_prefix", "expected"),
    [
        ("", ""),
        ("/", ""),
        ("//", ""),
        ("host1", "host1"),
        ("/host1", "host1"),
        ("host1/", "host1/"),
        ("/host1//", "host1/"),
        ("hosts//a", "hosts/a"),
        ("//hosts///a//b/", "hosts/a/b/"),
        ("host1_", "host1_"),
    ],
)
def test_key_prefix_drops_empty_path_parts_and_keeps_a_final_slash(given_prefix: str, expected: str) -> None:
    assert key_prefix(given_prefix) == expected


@pytest.mark.parametrize(
    ("given_prefix", "expected"),
    [("", ""), ("/", ""), ("host1", "host1/"), ("/host1", "host1/"), ("hosts//a//", "hosts/a/")],
)
def test_folder_is_empty_or_ends_in_one_slash(given_prefix: str, expected: str) -> None:
    assert folder(given_prefix) == expected


def test_normalising_twice_changes_nothing() -> None:
    for value in ("/a//b/", "a", "//", "x//y"):
        assert key_prefix(key_prefix(value)) == key_prefix(value)
        assert folder(folder(value)) == folder(value)


def test_prefix_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(PrefixError, match="must be a string, got 5"):
        key_prefix(5)


def test_prefix_longer_than_an_s3_key_is_refused() -> None:
    assert key_prefix("/" * 5000 + "a") == "a"  # slashes that are dropped do not count
    with pytest.raises(PrefixError, match=f"at most {MAX_PREFIX_LENGTH} bytes"):
        key_prefix("é" * 513)


@pytest.mark.parametrize(
    ("prefix", "url"),
    [("", "boto3+s3://b"), ("host1", "boto3+s3://b/host1"), ("/hosts//a/", "boto3+s3://b/hosts/a")],
)
def test_duplicity_url_names_the_target_that_writes_under_the_prefix(prefix: str, url: str) -> None:
    assert duplicity_url("b", prefix) == url


# URL path parts duplicity reads literally: no '%' (it unquotes), '?' or '#' (URL syntax), '/' (separator).
PATH_PARTS = st.text(
    st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="/%?#\\"), min_size=0, max_size=8
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PATH_PARTS, max_size=5), st.sampled_from(["", "/", "//"]))
def test_folder_is_the_key_prefix_duplicitys_s3_backend_writes_under(parts: list[str], lead: str) -> None:
    backend = pytest.importorskip("duplicity.backends.s3_boto3_backend")
    parsed_url = pytest.importorskip("duplicity.backend").ParsedUrl
    path = lead + "/".join(parts)

    duplicity = backend.S3Boto3Backend(parsed_url(f"boto3+s3://bucket/{path}"))

    assert duplicity.bucket_name == "bucket"
    assert folder(path) == duplicity.key_prefix
    assert duplicity_url("bucket", path) == f"boto3+s3://bucket/{folder(path)}".rstrip("/")
