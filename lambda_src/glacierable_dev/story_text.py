"""How the demo story words things: rules, duplicity's output, commands, times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def sqs_client(endpoint_url: str) -> SQSClient:
    import boto3  # a runtime dependency; imported here to keep module import light

    return boto3.session.Session().client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")


def describe_rule(rule: dict[str, Any]) -> tuple[str, str, str]:
    filter_ = rule.get("Filter", {})
    parts = filter_.get("And", filter_)
    tags = parts.get("Tags", [parts["Tag"]] if "Tag" in parts else [])
    described = [f"prefix {parts['Prefix']!r}"] if parts.get("Prefix") else []
    described += [f"tag {t['Key']}={t['Value']}" for t in tags]
    if "Transitions" in rule:
        t = rule["Transitions"][0]
        action = f"to {t['StorageClass']} after {t['Days']} day(s)"
    else:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        action = f"abort incomplete uploads after {days} days"
    return str(rule["ID"]), ", ".join(described) or "whole bucket", action


def collection_summary(stdout: str) -> str:
    """The lines of collection-status that describe the chain and its sets."""
    keep = []
    for line in stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith(
            ("Found primary", "Chain start", "Chain end", "Number of contained", "Total number")
        ):
            keep.append(stripped)
        elif stripped.startswith(("Full ", "Incremental ")):
            keep.append("  " + " ".join(stripped.split()))
    return "\n".join(keep)


def display_command(command: str, workdir: Path) -> str:
    """A duplicity command as shown: the work folder abbreviated, the speed-only gpg option left out."""
    shown = command.replace(" '--gpg-options=--s2k-count 65536'", "").replace(f"{workdir}/", "$WORK/")
    return shown.replace(str(workdir), "$WORK")


BOTO3_NOTICE_FIRST = "WARNING: If boto3 >= 1,36.0 with non-amazon s3 services"
BOTO3_NOTICE_LAST = "see https://gitlab.com/duplicity/duplicity/-/issues/870 for details."


def without_boto3_notice(output: str) -> str:
    """duplicity's output with its 6-line notice about boto3 checksums shortened to one line.

    duplicity prints it on every run against a non-AWS endpoint, even with the two variables it suggests
    already set (the demo's runner sets them): repeated in every restore it would bury the output.
    """
    lines = output.splitlines(keepends=True)
    kept: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith(BOTO3_NOTICE_FIRST):
            skipping = True
            kept.append("[duplicity's notice about boto3 >= 1.36 checksums on non-AWS endpoints, left out]\n")
        elif skipping:
            skipping = not line.startswith(BOTO3_NOTICE_LAST)
        else:
            kept.append(line)
    return "".join(kept)


def quote_demo(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./:=+" for c in arg) else json.dumps(arg)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
