"""Reading the user's `duplicity restore` command line and its dry run's list (pure code)."""

from __future__ import annotations

import re

import pytest

from glacierable.duplicity_cli import (
    DuplicityCommandError,
    parse_required_volumes,
    parse_restore_command,
    parse_s3_url,
    restore_keys,
    volume_prefix,
)

FULL = "duplicity-full.20231114T221320Z"
VOL1 = f"{FULL}.vol1.difftar.gpg"
VOL2 = f"{FULL}.vol2.difftar.gpg"
INC1 = "duplicity-inc.20231114T221320Z.to.20231115T221320Z.vol1.difftar.gpg"


def test_a_restore_command_gives_bucket_folder_and_the_argv_as_is() -> None:
    argv = ["duplicity", "restore", "-t", "3D", "--path-to-restore", "a b/c.txt", "boto3+s3://bk/x/y", "out"]
    command = parse_restore_command(argv)
    assert (command.bucket, command.folder, command.par2) == ("bk", "x/y/", False)
    assert command.argv == tuple(argv) and command.executable == "duplicity"
    assert command.url == "boto3+s3://bk/x/y"
    assert (command.endpoint_url, command.region_name) == (None, None)


def test_the_dry_run_adds_its_options_after_the_users_so_they_win() -> None:
    command = parse_restore_command(["/opt/dup", "restore", "-v0", "s3://bk", "out"])
    assert command.dry_run_argv("/tmp/log") == [
        "/opt/dup",
        "restore",
        "-v0",
        "s3://bk",
        "out",
        "--dry-run",
        "--verbosity",
        "notice",
        "--log-file",
        "/tmp/log",
    ]


def test_the_rb_alias_is_a_restore() -> None:
    assert parse_restore_command(["duplicity", "rb", "s3://bk/p", "out"]).folder == "p/"


@pytest.mark.parametrize(
    ("url", "bucket", "folder", "par2"),
    [
        ("boto3+s3://bk", "bk", "", False),
        ("s3://bk/", "bk", "", False),
        ("par2+boto3+s3://bk/a/b", "bk", "a/b/", True),
        ("par2+s3://bk//a//b//", "bk", "a/b/", True),
        ("S3://bk/a", "bk", "a/", False),
        ("s3:///bk/a", "bk", "a/", False),
        ("boto3+s3://bk/a%20b/c?x=1#frag", "bk", "a b/c/", False),
    ],
)
def test_s3_urls_read_as_duplicitys_boto3_backend_reads_them(
    url: str, bucket: str, folder: str, par2: bool
) -> None:
    assert parse_s3_url(url) == (bucket, folder, par2)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("file:///srv/backup", "file://"),
        ("sftp://host/backup", "sftp://"),
        ("par2+file:///x", "par2+file://"),
        ("s3+http://bk/x", "s3+http://"),
        ("gs://bk/x", "gs://"),
    ],
)
def test_urls_that_are_not_s3_are_refused_naming_the_scheme(url: str, named: str) -> None:
    with pytest.raises(DuplicityCommandError, match=re.escape(f"S3 only, and {named} is not an S3 URL")):
        parse_restore_command(["duplicity", "restore", url, "out"])


def test_a_url_without_a_bucket_is_refused() -> None:
    with pytest.raises(DuplicityCommandError, match="names no bucket"):
        parse_s3_url("boto3+s3:///")


@pytest.mark.parametrize("action", ["backup", "full", "incremental", "verify", "collection-status", "ls"])
def test_other_actions_are_refused_by_name(action: str) -> None:
    with pytest.raises(DuplicityCommandError, match=f"restores only, not `duplicity {action}`"):
        parse_restore_command(["duplicity", action, "s3://bk/p", "out"])


def test_an_implied_action_is_refused_with_the_form_to_use() -> None:
    with pytest.raises(DuplicityCommandError, match="must start with its action `restore`, got 's3://bk/p'"):
        parse_restore_command(["duplicity", "s3://bk/p", "out"])


def test_options_before_the_action_are_refused() -> None:
    with pytest.raises(DuplicityCommandError, match="got '-t'"):
        parse_restore_command(["duplicity", "-t", "3D", "restore", "s3://bk/p", "out"])


def test_no_command_or_no_action_is_refused() -> None:
    with pytest.raises(DuplicityCommandError, match="no duplicity command"):
        parse_restore_command([])
    with pytest.raises(DuplicityCommandError, match="has no action"):
        parse_restore_command(["duplicity"])


def test_an_option_in_the_executables_place_is_refused() -> None:
    with pytest.raises(DuplicityCommandError, match="must be the duplicity executable"):
        parse_restore_command(["--tier", "restore", "s3://bk", "out"])


def test_endpoint_and_region_in_both_spellings_the_last_one_winning() -> None:
    command = parse_restore_command(
        [
            "duplicity",
            "restore",
            "--s3-endpoint-url",
            "http://127.0.0.1:1",
            "--s3-region-name=eu-west-1",
            "s3://bk/p",
            "out",
            "--s3-endpoint-url=http://127.0.0.1:2",
        ]
    )
    assert (command.endpoint_url, command.region_name) == ("http://127.0.0.1:2", "eu-west-1")
    assert command.url == "s3://bk/p"  # the endpoint's URL is not taken for the target


def test_an_abbreviated_endpoint_option_is_refused() -> None:
    with pytest.raises(DuplicityCommandError, match="write --s3-endpoint-url in full"):
        parse_restore_command(["duplicity", "restore", "--s3-endpoint", "http://h:1", "s3://bk", "out"])


def test_an_endpoint_option_without_a_value_is_refused() -> None:
    with pytest.raises(DuplicityCommandError, match="--s3-endpoint-url needs a value"):
        parse_restore_command(["duplicity", "restore", "s3://bk", "out", "--s3-endpoint-url"])


def test_no_url_or_two_urls_are_refused() -> None:
    with pytest.raises(DuplicityCommandError, match="no duplicity URL"):
        parse_restore_command(["duplicity", "restore", "/srv/backup", "out"])
    with pytest.raises(DuplicityCommandError, match="several URLs"):
        parse_restore_command(["duplicity", "restore", "s3://a/p", "s3://b/p"])


MACHINE_LOG = (
    "NOTICE 1\n. Sync would copy the following from remote to local:\n. duplicity-full.x.manifest.gpg\n\n"
    "NOTICE 1\n. Last full backup date: Tue Dec  1 04:00:29 2026\n\n"
    f"NOTICE 1\n. Required volumes to restore:\n. \t{VOL1}\n. \t{VOL2}\n. \t{INC1}\n\n"
    "NOTICE 1\n. Duplicity backup complete.\n\n"
)


def test_the_dry_runs_list_is_read_from_the_machine_log_in_order() -> None:
    assert parse_required_volumes(MACHINE_LOG) == [VOL1, VOL2, INC1]


def test_an_empty_list_is_read_as_no_volume() -> None:
    assert parse_required_volumes("NOTICE 1\n. Required volumes to restore:\n. \t\n\n") == []


def test_a_log_without_the_list_is_refused_clearly() -> None:
    with pytest.raises(DuplicityCommandError, match="logged no 'Required volumes to restore:' list"):
        parse_required_volumes("NOTICE 1\n. Last full backup date: none\n\n")


def test_keys_are_the_volumes_under_the_folder_in_duplicitys_order() -> None:
    listed = [f"p/{VOL2}", f"p/{VOL1}", f"p/{INC1}", "p/other.txt"]
    assert restore_keys([VOL2, VOL1], "p/", listed, par2=False) == [f"p/{VOL2}", f"p/{VOL1}"]


def test_par2_urls_add_each_volumes_par2_files_and_only_theirs() -> None:
    listed = [
        f"p/{VOL1}",
        f"p/{VOL1}.par2",
        f"p/{VOL1}.vol000+199.par2",
        f"p/{VOL2}",
        f"p/{VOL2}.par2",
        f"p/sub/{VOL1}.par2",  # a sub-folder: duplicity never reads it
    ]
    assert restore_keys([VOL1], "p/", listed, par2=True) == [
        f"p/{VOL1}",
        f"p/{VOL1}.par2",
        f"p/{VOL1}.vol000+199.par2",
    ]
    assert restore_keys([VOL1], "p/", listed, par2=False) == [f"p/{VOL1}"]


def test_par2_files_at_the_bucket_root() -> None:
    listed = [VOL1, f"{VOL1}.par2", f"p/{VOL1}.par2"]
    assert restore_keys([VOL1], "", listed, par2=True) == [VOL1, f"{VOL1}.par2"]


def test_a_listed_volume_missing_from_the_bucket_is_refused_by_name() -> None:
    with pytest.raises(DuplicityCommandError, match=f"1 volume\\(s\\) that are not in .* 'p/': {VOL2}"):
        restore_keys([VOL1, VOL2], "p/", [f"p/{VOL1}"], par2=False)


def test_the_volume_prefix_is_shared_by_the_names() -> None:
    assert volume_prefix([VOL1, INC1]) == ""
    assert volume_prefix([f"h_data_{VOL1}", f"h_data_{INC1}"]) == "h_data_"
    assert volume_prefix([f"a_{VOL1}", VOL2]) is None
