"""Synth through app.py with an invalid CDK context setting fails, names the setting, and writes nothing."""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

ROOT = Path(__file__).resolve().parents[2]

# One invalid setting each, as `cdk synth -c key=value` (strings) or cdk.json (JSON values) deliver them.
INVALID = [
    pytest.param({"storage_class": "STANDARD_IA"}, "storage_class: 'STANDARD_IA' is not", id="class"),
    pytest.param({"storage_class": 7}, "storage_class: ", id="class-not-string"),
    pytest.param({"days": "0"}, "days: 0 is out of range; allowed: 1..3650", id="days-zero"),
    pytest.param({"days": 3651}, "days: 3651 is out of range; allowed: 1..3650", id="days-too-many"),
    pytest.param({"days": "-1"}, "days: ", id="days-negative"),
    pytest.param({"bucket": "My_Backups"}, "bucket: 'My_Backups' is not a valid S3 bucket name", id="bucket"),
    pytest.param({"bucket": "ab"}, "bucket: 'ab' is not a valid S3 bucket name", id="bucket-short"),
    pytest.param({"prefix": 7}, "prefix: must be a string", id="prefix"),
    pytest.param({"events": "sqs"}, "events: 'sqs' is not an event delivery", id="events"),
    pytest.param({"alarm_email": "ops"}, "alarm_email: 'ops' is not an email address", id="email"),
    pytest.param({"alarm_topic_arn": "ops"}, "alarm_topic_arn: 'ops' is not an SNS topic ARN", id="topic"),
    pytest.param(
        {"alarm_email": "ops@example.com", "alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:ops"},
        "alarm_email, alarm_topic_arn: give one or the other",
        id="email-and-topic",
    ),
]


def synth_in_process(
    context: dict[str, Any], outdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """app.main() given `context`: what `cdk synth -c ...` runs, without starting another jsii process.

    (CDK_CONTEXT_JSON is read by the jsii node process when it starts, so setting it here would do nothing.)
    """
    app = importlib.import_module("app")
    monkeypatch.setattr(app.cdk, "App", functools.partial(cdk.App, context=context, outdir=str(outdir)))
    code = app.main()
    return code, capsys.readouterr().err


@pytest.mark.cdk
@pytest.mark.parametrize(("setting", "message"), INVALID)
def test_invalid_setting_fails_synth_naming_it(
    setting: dict[str, Any],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, stderr = synth_in_process({"bucket": "my-backups", **setting}, tmp_path, monkeypatch, capsys)
    assert code != 0
    problems = [line.strip() for line in stderr.splitlines()[1:]]
    assert len(problems) == 1, stderr
    assert problems[0].startswith(message)
    assert not (tmp_path / "manifest.json").exists()


@pytest.mark.cdk
def test_cdk_cli_run_of_app_names_every_invalid_setting_and_exits_non_zero(tmp_path: Path) -> None:
    context = {"bucket": "My_Backups", "prefix": 7, "storage_class": "STANDARD_IA", "days": "0"}
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(tmp_path),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    }
    command = [sys.executable, "app.py"]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode != 0
    named = sorted(line.strip().split(":")[0] for line in result.stderr.splitlines()[1:] if line.strip())
    assert named == ["bucket", "days", "prefix", "storage_class"]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "manifest.json").exists()
