"""`glacierable check` against a moto server: a healthy backup, each seeded defect, JSON Lines, exit codes,
and the printed fixes, pasted."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from glacierable.check import DAY
from glacierable.lifecycle_store import apply_rules, remove_our_rules
from glacierable.names import format_time
from glacierable.notifications import notification_id
from glacierable_cli import check_cmd
from glacierable_cli.main import main

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import StorageClassType
    from mypy_boto3_s3.type_defs import QueueConfigurationTypeDef

FOLDER = "hosts/a/"
T1 = 1_700_000_000
T2 = T1 + DAY
T3 = T2 + DAY
FULL = f"{FOLDER}duplicity-full.{format_time(T1)}"
INC = f"{FOLDER}duplicity-inc.{format_time(T1)}.to.{format_time(T2)}"
VOLUMES = [f"{FULL}.vol{n}.difftar.gpg" for n in (1, 2, 3)] + [f"{INC}.vol1.difftar.gpg"]
MANIFESTS = [f"{FULL}.manifest.gpg", f"{INC}.manifest.gpg"]
SIGNATURES = [
    f"{FOLDER}duplicity-full-signatures.{format_time(T1)}.sigtar.gpg",
    f"{FOLDER}duplicity-new-signatures.{format_time(T1)}.to.{format_time(T2)}.sigtar.gpg",
]
LATER = 10 * DAY
"""How far after the upload the check runs: moto stamps objects with the real time of their PUT."""


@dataclass
class Result:
    code: int
    out: str
    err: str

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]

    def problems(self) -> list[tuple[str, str | None]]:
        """(code, key or set) of each problem record."""
        return [(r["problem"], r["key"] or r["set"]) for r in self.records() if r["record"] == "problem"]


@pytest.fixture
def glacierable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], endpoint_url: str
) -> Any:
    monkeypatch.setattr(check_cmd, "now", lambda: int(time.time()) + LATER)

    def run(*args: str, endpoint: bool = True) -> Result:
        capsys.readouterr()
        try:
            code = main([*args, *(["--endpoint-url", endpoint_url] if endpoint else [])])
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def upload(s3: S3Client, bucket: str, *, volume_class: StorageClassType = "GLACIER") -> str:
    """A healthy backup as a deployment leaves it: tagged, our rules applied, volumes in `volume_class`."""
    for key in VOLUMES:
        body = b"v" * 1000  # under 128 KB: a volume left in STANDARD is not late
        s3.put_object(
            Bucket=bucket, Key=key, Body=body, StorageClass=volume_class, Tagging="glacierable=true"
        )
    for key in [*MANIFESTS, *SIGNATURES]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"m", Tagging="glacierable=false")
    apply_rules(s3, bucket)
    return bucket


@pytest.fixture
def backup(s3: S3Client, bucket: str) -> str:
    """Volumes archived by our rule."""
    return upload(s3, bucket)


def check(glacierable: Any, bucket: str, *args: str) -> Result:
    result: Result = glacierable("check", "--bucket", bucket, "--prefix", FOLDER, "--json", *args)
    return result


def test_a_healthy_backup_exits_0_with_no_problems(glacierable: Any, backup: str) -> None:
    result = check(glacierable, backup)

    assert result.code == 0, result.out + result.err
    assert result.problems() == []
    kinds = [r["record"] for r in result.records()]
    assert kinds == ["chain", "check"]


def test_the_chain_record_has_sets_volumes_storage_and_restore_costs(glacierable: Any, backup: str) -> None:
    chain = check(glacierable, backup).records()[0]

    assert chain["folder"] == FOLDER
    assert chain["full_time"] == T1
    assert chain["incremental_times"] == [T2]
    assert chain["volume_count"] == 4
    assert chain["volume_classes"] == {"GLACIER": {"count": 4, "bytes": 4000}}
    assert chain["storage_usd_per_month"] >= 0
    assert [cost["tier"] for cost in chain["restore_costs"]] == ["Expedited", "Standard", "Bulk"]


def test_the_human_report_names_the_chain_and_says_healthy(glacierable: Any, backup: str) -> None:
    result = glacierable("check", "--bucket", backup, "--prefix", "hosts/a")

    assert result.code == 0, result.err
    assert f"boto3+s3://{backup}/hosts/a" in result.out
    assert f"full {format_time(T1)} + 1 incremental(s) to {format_time(T2)}" in result.out
    assert result.out.rstrip().endswith("no problems")


def test_a_deleted_volume_is_missing_volume(glacierable: Any, backup: str, s3: S3Client) -> None:
    s3.delete_object(Bucket=backup, Key=VOLUMES[1])

    result = check(glacierable, backup)

    assert result.code == 1
    assert result.problems() == [("missing-volume", FULL)]


def test_a_deleted_manifest_is_missing_manifest(glacierable: Any, backup: str, s3: S3Client) -> None:
    s3.delete_object(Bucket=backup, Key=MANIFESTS[1])

    result = check(glacierable, backup)

    assert result.code == 1
    assert result.problems() == [("missing-manifest", INC)]


def test_a_deleted_signature_is_missing_signature(glacierable: Any, backup: str, s3: S3Client) -> None:
    s3.delete_object(Bucket=backup, Key=SIGNATURES[0])

    assert check(glacierable, backup).problems() == [("missing-signature", FULL)]


def test_an_archived_manifest_is_metadata_archived(glacierable: Any, backup: str, s3: S3Client) -> None:
    s3.put_object(Bucket=backup, Key=MANIFESTS[0], Body=b"m", StorageClass="GLACIER")

    result = check(glacierable, backup)

    assert result.code == 1
    assert result.problems() == [("metadata-archived", MANIFESTS[0])]


def test_an_untagged_standard_volume_is_untagged(glacierable: Any, backup: str, s3: S3Client) -> None:
    s3.put_object(Bucket=backup, Key=VOLUMES[3], Body=b"v")

    result = check(glacierable, backup)

    assert result.code == 1
    assert result.problems() == [("untagged", VOLUMES[3])]


def test_an_incremental_without_its_full_is_an_orphan(glacierable: Any, backup: str, s3: S3Client) -> None:
    orphan = f"{FOLDER}duplicity-inc.{format_time(T2 + 3600)}.to.{format_time(T3)}"
    for key in (f"{orphan}.vol1.difftar.gpg", f"{orphan}.manifest.gpg"):
        s3.put_object(Bucket=backup, Key=key, Body=b"o", Tagging="glacierable=false")
    sig = f"{FOLDER}duplicity-new-signatures.{format_time(T2 + 3600)}.to.{format_time(T3)}.sigtar.gpg"
    s3.put_object(Bucket=backup, Key=sig, Body=b"s", Tagging="glacierable=false")

    result = check(glacierable, backup)

    assert result.code == 1
    assert result.problems() == [("orphan-incremental", orphan)]


def test_our_rule_removed_is_no_lifecycle_rule(glacierable: Any, backup: str, s3: S3Client) -> None:
    remove_our_rules(s3, backup)

    result = check(glacierable, backup)

    assert result.code == 1
    assert result.problems() == [("no-lifecycle-rule", None)]


def test_every_json_line_parses_and_problems_carry_problem_key_set_detail(
    glacierable: Any, backup: str, s3: S3Client
) -> None:
    s3.delete_object(Bucket=backup, Key=VOLUMES[1])
    s3.put_object(Bucket=backup, Key=VOLUMES[3], Body=b"v")

    result = check(glacierable, backup)

    records = result.records()  # every line is one JSON object
    assert [r["record"] for r in records] == ["chain", "problem", "problem", "check"]
    for problem in records[1:3]:
        assert {"problem", "key", "set", "detail", "action", "commands"} <= set(problem)
    assert records[-1]["problem_count"] == 2
    assert records[-1]["problem_counts"]["untagged"] == 1
    assert result.err == ""


def test_bad_usage_exits_2(glacierable: Any, backup: str) -> None:
    assert glacierable("check", "--bucket", backup, "--days", "0").code == 2
    assert glacierable("check", "--bucket", f"s3://{backup}").code == 2
    assert glacierable("check").code == 2


def test_no_backup_under_the_prefix_exits_1_and_says_where_it_looked(glacierable: Any, backup: str) -> None:
    result = glacierable("check", "--bucket", backup, "--prefix", "hosts/b")

    assert result.code == 1
    assert f"no duplicity backup under s3://{backup}/hosts/b/" in result.err


def test_another_file_prefix_is_suggested(glacierable: Any, backup: str) -> None:
    result = glacierable("check", "--bucket", backup, "--prefix", FOLDER, "--file-prefix", "h1_")

    assert result.code == 1
    assert "the files there need no --file-prefix options" in result.err


def pasted(glacierable: Any, command: str) -> Result:
    """A printed `glacierable …` command, run as pasted (it names its own endpoint)."""
    argv = shlex.split(command)
    assert argv[0] == "glacierable", command
    result: Result = glacierable(*argv[1:], endpoint=False)
    return result


def test_the_printed_backfill_command_fixes_untagged_when_pasted(
    glacierable: Any, bucket: str, s3: S3Client
) -> None:
    # Volumes in STANDARD: moto refuses GetObjectTagging on archived objects, which backfill reads.
    backup = upload(s3, bucket, volume_class="STANDARD")
    s3.put_object(Bucket=backup, Key=VOLUMES[3], Body=b"v")
    (problem,) = [r for r in check(glacierable, backup).records() if r["record"] == "problem"]
    (command,) = problem["commands"]
    assert command.startswith(f"glacierable backfill --bucket {backup} --prefix {FOLDER} ")

    assert pasted(glacierable, command).code == 0

    assert check(glacierable, backup).code == 0


def test_the_printed_lifecycle_command_in_the_text_report_fixes_the_rule_when_pasted(
    glacierable: Any, backup: str, s3: S3Client
) -> None:
    remove_our_rules(s3, backup)
    out = glacierable("check", "--bucket", backup, "--prefix", FOLDER).out
    command = next(line.strip() for line in out.splitlines() if line.strip().startswith("glacierable "))

    assert pasted(glacierable, command).code == 0

    assert check(glacierable, backup).code == 0


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_printed_aws_commands_bring_an_archived_manifest_back_when_pasted(
    glacierable: Any, backup: str, s3: S3Client
) -> None:
    s3.put_object(
        Bucket=backup, Key=MANIFESTS[0], Body=b"m", StorageClass="GLACIER", Tagging="glacierable=true"
    )
    (problem,) = [r for r in check(glacierable, backup).records() if r["record"] == "problem"]

    for command in problem["commands"]:
        argv = shlex.split(command)
        assert argv[0] == "aws", command
        done = subprocess.run(argv, env=dict(os.environ), capture_output=True, text=True, check=False)
        assert done.returncode == 0, command + "\n" + done.stderr

    assert check(glacierable, backup).code == 0
    assert s3.head_object(Bucket=backup, Key=MANIFESTS[0]).get("StorageClass", "STANDARD") == "STANDARD"


def owner_queue_notification(s3: S3Client, bucket: str, endpoint_url: str, *, id_: str, prefix: str) -> None:
    """An ObjectCreated notification to an SQS queue of the bucket owner's, filtered on `prefix`."""
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    queue_url = sqs.create_queue(QueueName=f"owner-{id_}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    configuration: QueueConfigurationTypeDef = {"Id": id_, "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
    if prefix:
        configuration["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [configuration]}
    )


def test_an_owners_overlapping_notification_is_reported_before_a_direct_deploy(
    glacierable: Any, backup: str, s3: S3Client, endpoint_url: str
) -> None:
    owner_queue_notification(s3, backup, endpoint_url, id_="antivirus", prefix="")

    result = check(glacierable, backup)

    assert result.code == 1
    assert result.problems() == [("notification-overlap", None)]
    (problem,) = [r for r in result.records() if r["record"] == "problem"]
    assert "'antivirus'" in problem["detail"]
    assert "eventbridge" in problem["action"]


def test_a_notification_on_another_prefix_or_our_own_is_no_overlap(
    glacierable: Any, backup: str, s3: S3Client, endpoint_url: str
) -> None:
    owner_queue_notification(s3, backup, endpoint_url, id_="logs", prefix="logs/")
    assert check(glacierable, backup).code == 0

    owner_queue_notification(s3, backup, endpoint_url, id_=notification_id(backup, FOLDER), prefix=FOLDER)
    assert check(glacierable, backup).code == 0
