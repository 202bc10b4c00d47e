"""How the demo shows what the commands it runs print."""

from __future__ import annotations

from glacierable_dev.story_text import quote_demo, without_boto3_notice

# duplicity's notice, as its s3_boto3_backend logs it on a non-AWS endpoint (duplicity 3.x).
NOTICE = (
    "WARNING: If boto3 >= 1,36.0 with non-amazon s3 services results in checksum errors preventing uploads "
    "you may try the following workaround. set the following env vars\n"
    "\n"
    "    export AWS_REQUEST_CHECKSUM_CALCULATION=when_required\n"
    "    export AWS_RESPONSE_CHECKSUM_VALIDATION=when_required\n"
    "\n"
    "see https://gitlab.com/duplicity/duplicity/-/issues/870 for details.\n"
)


def test_duplicitys_boto3_notice_becomes_one_line_and_the_rest_is_kept() -> None:
    output = f"running: duplicity restore …\n{NOTICE}Last full backup date: x\nDuplicity backup complete.\n"

    shown = without_boto3_notice(output)

    assert shown.splitlines() == [
        "running: duplicity restore …",
        "[duplicity's notice about boto3 >= 1.36 checksums on non-AWS endpoints, left out]",
        "Last full backup date: x",
        "Duplicity backup complete.",
    ]


def test_output_without_the_notice_is_unchanged() -> None:
    output = "needed 1\n\nrequested 1\n"
    assert without_boto3_notice(output) == output


def test_a_duplicity_url_is_shown_unquoted_and_a_path_with_a_space_quoted() -> None:
    assert (
        quote_demo("boto3+s3://glacierable-demo/backups/host1") == "boto3+s3://glacierable-demo/backups/host1"
    )
    assert quote_demo("notes/note 001.txt") == '"notes/note 001.txt"'
