"""The duplicity command glacierable prints carries every option the plan used and quotes for the shell."""

from __future__ import annotations

from glacierable.duplicity_command import duplicity_command
from glacierable.names import DuplicityPrefixes


def test_duplicity_command_carries_prefixes_and_quotes_what_the_shell_needs() -> None:
    command = duplicity_command(
        "bkt", "my backups/h1/", 1700000000, DuplicityPrefixes(file_prefix="h1_", archive="data_"), None
    )
    assert command == (
        "duplicity restore -t 20231114T221320Z --file-prefix h1_ --file-prefix-archive data_ "
        "'boto3+s3://bkt/my backups/h1' duplicity-restore-20231114T221320Z"
    )


def test_duplicity_command_for_the_bucket_root() -> None:
    command = duplicity_command("bkt", "", 1700000000, DuplicityPrefixes(), "http://127.0.0.1:5000")
    assert command.endswith(
        "--s3-endpoint-url http://127.0.0.1:5000 boto3+s3://bkt duplicity-restore-20231114T221320Z"
    )


def test_a_par2_backup_gets_the_par2_url_and_a_chosen_target() -> None:
    command = duplicity_command("bkt", "h/", 1700000000, DuplicityPrefixes(), None, par2=True, target="/r")
    assert command == "duplicity restore -t 20231114T221320Z par2+boto3+s3://bkt/h /r"
