"""`glacierable backfill` against a moto server: summary, JSON, exit codes, failures and reruns, progress."""

from __future__ import annotations

import io
import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from glacierable.clients import s3_client
from glacierable_cli import backfill_cmd
from glacierable_cli.errors import ExitCode
from glacierable_cli.main import main
from glacierable_cli.render import Renderer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FULL = "20240101T000000Z"
VOLUMES = [f"host1/duplicity-full.{FULL}.vol{n}.difftar.gpg" for n in range(1, 4)]
MANIFEST = f"host1/duplicity-full.{FULL}.manifest.gpg"
KEYS = [*VOLUMES, MANIFEST]


@pytest.fixture
def backup(s3: S3Client, bucket: str) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    return bucket


def glacierable_tag(s3: S3Client, bucket: str, key: str) -> str | None:
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
    return tags.get("glacierable")


def json_record(capsys: pytest.CaptureFixture[str]) -> Any:
    """The one JSON Lines record a `--json` run printed: nothing else may reach stdout."""
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["record"] == "backfill"
    return record


def fail_puts_for(monkeypatch: pytest.MonkeyPatch, keys: set[str]) -> None:
    """Make the command's client fail PutObjectTagging for `keys` only."""

    def maybe_fail(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") in keys:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "injected"}}, "PutObjectTagging")

    def failing_client(**kwargs: Any) -> Any:
        client = s3_client(**kwargs)
        client.meta.events.register("before-parameter-build.s3.PutObjectTagging", maybe_fail)
        return client

    monkeypatch.setattr(backfill_cmd, "s3_client", failing_client)


def test_json_summary_and_exit_zero(
    backup: str, endpoint_url: str, s3: S3Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backfill", "--bucket", backup, "--endpoint-url", endpoint_url, "--json"])

    summary = json_record(capsys)
    assert code == 0
    assert summary["ok"] is True
    assert summary["listed"] == len(KEYS)
    assert summary["actions"]["tagged"] == len(KEYS)
    assert summary["tagged"] == {"true": len(VOLUMES), "false": 1}
    assert summary["failed"] == []
    assert glacierable_tag(s3, backup, VOLUMES[0]) == "true"


def test_table_summary_names_the_counts(
    backup: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["backfill", "--bucket", backup, "--endpoint-url", endpoint_url])

    lines = capsys.readouterr().out.splitlines()
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines)
    assert rows["listed"] == str(len(KEYS))
    assert rows["tagged true"] == str(len(VOLUMES))
    assert rows["tagged false"] == "1"
    assert rows["failed"] == "0"


def test_endpoint_comes_from_the_environment(
    backup: str, endpoint_url: str, monkeypatch: pytest.MonkeyPatch, s3: S3Client
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)

    assert main(["backfill", "--bucket", backup, "--json"]) == 0
    assert glacierable_tag(s3, backup, MANIFEST) == "false"


def test_dry_run_writes_nothing(
    backup: str, endpoint_url: str, s3: S3Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backfill", "--bucket", backup, "--endpoint-url", endpoint_url, "--dry-run", "--json"])

    summary = json_record(capsys)
    assert code == 0
    assert summary["dry_run"] is True
    assert summary["glacierable"] == {"true": len(VOLUMES), "false": 1}
    assert all(glacierable_tag(s3, backup, key) is None for key in KEYS)


def test_failures_exit_one_and_name_the_keys(
    backup: str, endpoint_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fail_puts_for(monkeypatch, {VOLUMES[1]})

    code = main(["backfill", "--bucket", backup, "--endpoint-url", endpoint_url])

    err = capsys.readouterr().err
    assert code == 1
    assert "1 objects could not be tagged" in err
    assert f"{VOLUMES[1]}: AccessDenied: injected" in err


def test_rerun_after_failures_finishes_the_job(
    backup: str, endpoint_url: str, s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as broken:
        fail_puts_for(broken, {VOLUMES[1]})
        assert main(["backfill", "--bucket", backup, "--endpoint-url", endpoint_url]) == 1

    assert main(["backfill", "--bucket", backup, "--endpoint-url", endpoint_url]) == 0
    assert glacierable_tag(s3, backup, VOLUMES[1]) == "true"


def test_json_lists_every_failure(
    backup: str, endpoint_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fail_puts_for(monkeypatch, set(VOLUMES))

    code = main(["backfill", "--bucket", backup, "--endpoint-url", endpoint_url, "--json"])

    summary = json_record(capsys)
    assert code == 1
    assert summary["ok"] is False
    assert sorted(f["key"] for f in summary["failed"]) == sorted(VOLUMES)


def test_long_failure_lists_are_cut_at_twenty(
    s3: S3Client,
    bucket: str,
    endpoint_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = [f"duplicity-full.{FULL}.vol{n}.difftar.gpg" for n in range(1, 26)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    fail_puts_for(monkeypatch, set(keys))

    main(["backfill", "--bucket", bucket, "--endpoint-url", endpoint_url])

    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("glacierable backfill: 25 objects could not be tagged")
    assert len([line for line in err if "AccessDenied" in line]) == 20
    assert err[-1].strip().startswith("… and 5 more")


@pytest.mark.parametrize("prefix", ["/host1", "host1", "host1/", "//host1//", "/host1/"])
def test_prefix_is_read_as_duplicity_reads_its_url(
    backup: str, endpoint_url: str, s3: S3Client, capsys: pytest.CaptureFixture[str], prefix: str
) -> None:
    # duplicity's boto3+s3://bucket//host1 writes host1/duplicity-…, never /host1/… or host1//….
    code = main(
        ["backfill", "--bucket", backup, "--prefix", prefix, "--endpoint-url", endpoint_url, "--json"]
    )

    summary = json_record(capsys)
    assert code == 0
    assert summary["prefix"] == prefix.strip("/") + ("/" if prefix.endswith("/") else "")
    assert summary["listed"] == len(KEYS)
    assert glacierable_tag(s3, backup, VOLUMES[0]) == "true"


def test_doubled_slashes_inside_the_prefix_are_one_slash(
    s3: S3Client, bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = f"hosts/a/duplicity-full.{FULL}.vol1.difftar.gpg"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")

    code = main(["backfill", "--bucket", bucket, "--prefix", "hosts//a", "--endpoint-url", endpoint_url])

    assert code == 0
    assert glacierable_tag(s3, bucket, key) == "true"


def test_nothing_under_the_prefix_exits_one_and_names_the_prefix_to_check(
    backup: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["backfill", "--bucket", backup, "--prefix", "host2/", "--endpoint-url", endpoint_url, "--json"]
    )

    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["listed"] == 0  # the summary still goes to stdout, and only it
    assert captured.err == (
        f"glacierable backfill: error: no objects under s3://{backup}/host2/: check --prefix "
        f"(the backup at boto3+s3://{backup}/host2 is --prefix host2/)\n"
    )


def test_nothing_under_the_prefix_in_a_dry_run_exits_one_too(
    backup: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["backfill", "--bucket", backup, "--prefix", "nope", "--dry-run", "--endpoint-url", endpoint_url]
    )

    assert code == 1
    assert "no objects under s3://" in capsys.readouterr().err


def test_an_empty_bucket_without_a_prefix_is_a_success(
    bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backfill", "--bucket", bucket, "--endpoint-url", endpoint_url])

    assert code == 0
    assert capsys.readouterr().err == ""


def test_versioned_bucket_reports_versions_and_tags_each(
    s3: S3Client, versioned_bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for body in (b"1", b"2"):
        s3.put_object(Bucket=versioned_bucket, Key=VOLUMES[0], Body=body)
    s3.put_object(Bucket=versioned_bucket, Key=MANIFEST, Body=b"x")
    s3.delete_object(Bucket=versioned_bucket, Key=MANIFEST)

    code = main(["backfill", "--bucket", versioned_bucket, "--endpoint-url", endpoint_url])

    rows = dict(
        re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in capsys.readouterr().out.splitlines()
    )
    assert code == 0
    assert rows["versioning"] == "Enabled (every version is tagged)"
    assert rows["listed"] == "3 versions (2 noncurrent)"
    assert rows["delete markers"] == "1 (skipped)"
    assert (rows["tagged true"], rows["tagged false"]) == ("2", "1")


def test_missing_bucket_is_one_clear_line(endpoint_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backfill", "--bucket", "no-such-bucket-here", "--endpoint-url", endpoint_url])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "NoSuchBucket" in captured.err
    assert "no-such-bucket-here" in captured.err


@pytest.mark.parametrize("concurrency", ["0", "513"])
def test_concurrency_out_of_range_is_a_usage_error(
    endpoint_url: str, concurrency: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["backfill", "--bucket", "b", "--endpoint-url", endpoint_url, "--concurrency", concurrency])

    assert exited.value.code == 2
    assert "--concurrency: must be from 1 to 512" in capsys.readouterr().err


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal() -> None:
    terminal = FakeTerminal()

    with Renderer(err=terminal).progress("tagging") as progress:
        progress.update(3, 4)
        progress.update(4, 4)

    output = terminal.getvalue()
    assert "tagging" in output and "4/4" in output
    assert "\n" in output.rsplit("4/4", 1)[1]  # the finished line ends: what prints next starts afresh


def test_progress_stays_silent_when_not_a_terminal() -> None:
    pipe = io.StringIO()

    with Renderer(err=pipe).progress("tagging") as progress:
        progress.update(4, 4)

    assert pipe.getvalue() == ""


def test_command_draws_progress_on_a_terminal_stderr(
    backup: str, endpoint_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)

    assert main(["backfill", "--bucket", backup, "--endpoint-url", endpoint_url]) == 0

    assert "tagging" in terminal.getvalue() and f"{len(KEYS)}/{len(KEYS)}" in terminal.getvalue()


def test_an_interrupted_backfill_says_how_far_it_got_and_a_rerun_finishes(
    backup: str,
    endpoint_url: str,
    s3: S3Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    interrupted_once: list[str] = []
    last_listed = sorted(KEYS)[-1]  # one thread tags in listing order: everything before it has finished

    def interrupting_client(**kwargs: Any) -> S3Client:
        client = s3_client(**kwargs)

        def maybe_interrupt(params: dict[str, Any], **_: Any) -> None:
            if params["Key"] == last_listed and not interrupted_once:
                interrupted_once.append(params["Key"])
                raise KeyboardInterrupt

        client.meta.events.register("before-parameter-build.s3.PutObjectTagging", maybe_interrupt)
        return client

    monkeypatch.setattr(backfill_cmd, "s3_client", interrupting_client)
    args = ["backfill", "--bucket", backup, "--endpoint-url", endpoint_url, "--concurrency", "1"]

    assert main(args) == ExitCode.INTERRUPTED
    err = capsys.readouterr().err
    assert f"interrupted after {len(KEYS) - 1} of {len(KEYS)} listed objects" in err
    assert glacierable_tag(s3, backup, last_listed) is None

    assert main(args) == 0
    assert [glacierable_tag(s3, backup, key) for key in KEYS] == [*(["true"] * (len(KEYS) - 1)), "false"]
