"""`glacierable demo`'s story end to end: real duplicity on a moto server, ending in verified restores."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from glacierable import TAG_KEY
from glacierable.classify import classify
from glacierable.clients import s3_client
from glacierable.names import Kind, parse_name
from glacierable.prefixes import duplicity_url
from glacierable_cli.main import main
from glacierable_dev.duplicity_runner import DuplicityRunner
from glacierable_dev.emulator import MotoServer
from glacierable_dev.source_tree import hash_tree
from glacierable_dev.story import StoryOptions, StoryResult, run_story
from glacierable_dev.transition import SMALL_OBJECT_BYTES
from tests.duplicity_oracle import parse_required_volumes

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.duplicity

FILES = 6


@dataclass
class Run:
    result: StoryResult
    output: str
    s3: S3Client
    workdir: Path
    endpoint_url: str
    restored_after: dict[str, set[str]]
    """By restore label: the keys with a restore (in progress or done) when duplicity had restored it."""

    def objects(self) -> list[dict[str, Any]]:
        listing = self.s3.list_objects_v2(Bucket=self.result.bucket, Prefix=self.result.folder)
        return [dict(item) for item in listing.get("Contents", [])]

    def tag(self, key: str) -> str | None:
        tag_set = self.s3.get_object_tagging(Bucket=self.result.bucket, Key=key)["TagSet"]
        return {t["Key"]: t["Value"] for t in tag_set}.get(TAG_KEY)

    def archived(self) -> set[str]:
        return {item["Key"] for item in self.objects() if item.get("StorageClass") == "GLACIER"}

    def section(self, start: str, end: str) -> str:
        """The output from the line starting with `start` to the next one starting with `end`."""
        match = re.search(rf"^ *{re.escape(start)}.*?(?=^ *{re.escape(end)})", self.output, re.M | re.S)
        assert match, f"no {start!r} ... {end!r} in the output:\n{self.output}"
        return match.group(0)

    def dry_run_keys(self, scratch: Path, path: str | None) -> set[str]:
        """What duplicity's own dry run of the latest restore reads (its stdout), as keys."""
        runner = DuplicityRunner.in_folder(
            scratch, endpoint_url=self.endpoint_url, passphrase=StoryOptions().passphrase
        )
        options = [] if path is None else ["--path-to-restore", path]
        url = duplicity_url(self.result.bucket, self.result.folder)
        cache, target = str(scratch / "cache"), str(scratch / "out")
        result = runner.run("restore", "--dry-run", "--archive-dir", cache, *options, url, target)
        names = parse_required_volumes(result.stdout)
        assert names, result.output
        return {f"{self.result.folder}{name}" for name in names}


def restored_keys(s3: S3Client, bucket: str, folder: str) -> set[str]:
    """The keys S3 says have a restore, in progress or done (HeadObject's Restore header)."""
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents", [])
    return {item["Key"] for item in listing if "Restore" in s3.head_object(Bucket=bucket, Key=item["Key"])}


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The story, run once with a small tree on a server of its own (restore states are server-wide)."""
    workdir = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    options = StoryOptions(files=FILES, workdir=workdir)
    restored_after: dict[str, set[str]] = {}
    with MotoServer() as server:
        s3 = s3_client(endpoint_url=server.url)

        def record(label: str, _target: Path) -> None:
            restored_after[label] = restored_keys(s3, options.bucket, f"{options.folder}/")

        result = run_story(options, server=server, out=out, after_restore=record)
        yield Run(result, out.getvalue(), s3, workdir, server.url, restored_after)


def test_the_story_ends_with_exit_code_zero_and_identical_restores(story: Run) -> None:
    assert story.result.exit_code == 0, story.output
    assert story.result.problems == []
    assert story.result.mismatches == {}
    assert "OK: every restore equals the source at its time, file by file" in story.output
    assert StoryOptions().passphrase not in story.output


def test_the_backups_made_several_volumes_per_chain(story: Run) -> None:
    volumes = [item["Key"] for item in story.objects() if classify(item["Key"]).kind == "volume"]
    assert len(volumes) >= 4


def test_every_object_is_tagged_by_its_kind(story: Run) -> None:
    for item in story.objects():
        expected = "true" if classify(item["Key"]).kind == "volume" else "false"
        assert story.tag(item["Key"]) == expected, item["Key"]


def test_volumes_of_128_kb_or_more_are_archived_and_restored(story: Run) -> None:
    archived = 0
    for item in story.objects():
        if classify(item["Key"]).kind != "volume" or item["Size"] < SMALL_OBJECT_BYTES:
            continue
        head = story.s3.head_object(Bucket=story.result.bucket, Key=item["Key"])
        assert head.get("StorageClass") == "GLACIER", item["Key"]
        assert 'ongoing-request="false"' in head.get("Restore", ""), item["Key"]
        archived += 1
    assert archived >= 3


def test_manifests_and_signatures_stay_in_standard(story: Run) -> None:
    metadata = [item for item in story.objects() if classify(item["Key"]).kind in ("manifest", "signature")]
    assert len(metadata) == 6  # a manifest and a signature file per backup
    assert {item.get("StorageClass", "STANDARD") for item in metadata} == {"STANDARD"}


def test_a_plain_duplicity_restore_fails_on_an_archived_volume(story: Run) -> None:
    assert "InvalidObjectState" in story.output
    assert not (story.workdir / "restore-plain").exists() or not any(
        (story.workdir / "restore-plain").iterdir()
    )


def test_the_latest_restore_starts_only_the_volumes_not_restored_already(story: Run) -> None:
    match = re.search(r"(\d+) objects needed, (\d+) readable, 0 in progress, (\d+) queued", story.output)
    assert match, story.output
    needed, readable, queued = map(int, match.groups())
    names = [(item, parse_name(item["Key"])) for item in story.objects()]
    volumes = [(item, name) for item, name in names if name is not None and name.kind is Kind.VOLUME]
    last = max(name.end_time for _, name in volumes)
    archived_in_last = [
        item for item, name in volumes if name.end_time == last and item["Size"] >= SMALL_OBJECT_BYTES
    ]
    # The emulator's listing reports no restore states and the restore Lambda reads no object, so every
    # archived volume of the chain is queued; S3's answers then say which restores are new (202) and which
    # copies are already there (200: the ones the CLI restored for the middle time).
    assert needed == readable + queued
    outcomes: Counter[str] = Counter()
    for line in re.findall(r"-> worker invocation with \d+ message\(s\): (.*)", story.output):
        outcomes.update({name: int(n) for n, name in re.findall(r"(\d+) (\w+)", line)})
    assert outcomes["requested"] == len(archived_in_last) > 0
    assert outcomes["requested"] + outcomes["extended"] == queued
    assert outcomes["extended"] > 0


def test_both_restores_hold_the_source_files(story: Run) -> None:
    middle = sorted(p.name for p in (story.workdir / "restore-middle").rglob("*") if p.is_file())
    latest = sorted(p.name for p in (story.workdir / "restore-latest").rglob("*") if p.is_file())
    assert len(latest) == len(middle) + 1  # each round of changes adds two files and deletes one
    assert len(middle) == FILES + 1


def test_the_one_file_plan_prices_what_duplicitys_dry_run_reads_and_requests_nothing(
    story: Run, tmp_path: Path
) -> None:
    assert story.result.one_file is not None
    expected = story.dry_run_keys(tmp_path, story.result.one_file)
    plan = story.section("8a.", "8b.")
    assert f"--path-to-restore {story.result.one_file}" in plan
    assert re.search(rf"duplicity reads +{len(expected)} volume\(s\)", plan), plan
    assert "nothing was requested" in plan
    # The one-file run's thaw is exactly its own list (next test): the plan requested nothing besides.


def test_the_one_file_run_thaws_exactly_what_duplicitys_dry_run_reads(story: Run, tmp_path: Path) -> None:
    assert story.result.one_file is not None
    expected = story.dry_run_keys(tmp_path, story.result.one_file)
    archived = story.archived()
    thawed = story.restored_after["one file"]
    assert thawed == expected & archived
    assert 0 < len(thawed) < len(archived)  # one file: a part of the backup, not all of it
    restored = story.workdir / "restore-one-file" / Path(story.result.one_file).name
    source = story.workdir / "source" / story.result.one_file
    assert restored.read_bytes() == source.read_bytes()


def test_the_whole_tree_run_requests_only_what_is_still_archived(story: Run, tmp_path: Path) -> None:
    expected = story.dry_run_keys(tmp_path / "tree", None)
    archived = story.archived()
    one_file = story.restored_after["one file"]
    assert story.restored_after["whole tree"] == expected & archived == archived
    run = story.section("8c.", "The data volumes")
    requested = re.search(r"^ *requested +(\d+)$", run, re.M)
    extended = re.search(r"^ *expiry extended +(\d+)$", run, re.M)
    assert requested and extended, run
    # The emulator's listing reports no restore states, so the still-readable volumes are asked again
    # and S3's 200 answers them (an expiry extension); only the rest are new restores.
    assert int(requested.group(1)) == len(archived - one_file) > 0
    assert int(extended.group(1)) == len(one_file)
    assert hash_tree(story.workdir / "restore-whole-tree") == hash_tree(story.workdir / "source")


def test_a_restored_file_that_differs_from_the_source_fails_the_story(tmp_path: Path) -> None:
    def tamper(label: str, restored: Path) -> None:
        if label == "one file":
            restored.write_bytes(b"not the photo that was backed up")
        if label not in ("middle", "latest"):
            return
        victims = sorted(p for p in restored.rglob("*.txt") if p.is_file())
        if label == "latest":
            victims[0].write_text("not what was backed up\n", encoding="utf-8")
        else:
            victims[0].unlink()

    out = io.StringIO()
    result = run_story(StoryOptions(files=3, workdir=tmp_path / "work"), out=out, after_restore=tamper)
    output = out.getvalue()
    assert result.exit_code == 1, output
    assert [line.split(":")[0] for line in result.mismatches["latest"]] == ["different content"]
    assert [line.split(":")[0] for line in result.mismatches["middle"]] == ["missing"]
    assert [line.split(":")[0] for line in result.mismatches["one file"]] == ["different content"]
    assert "whole tree" not in result.mismatches
    assert "MISMATCH in the latest restore" in output
    assert "FAILED" in output


def test_the_demo_command_refuses_too_few_files(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--files", "2"])
    assert exit_info.value.code == 2
    assert "files must be at least 3" in capsys.readouterr().err


def test_the_demo_command_refuses_a_workdir_with_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--workdir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "is not empty" in capsys.readouterr().err
