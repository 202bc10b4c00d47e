"""`--endpoint-url` is checked once, as the command line is parsed: every command refuses a bad one alike."""

from __future__ import annotations

import pytest

from glacierable.clients import EndpointError, check_endpoint_url, s3_client
from glacierable_cli.main import main

# Every command that talks to S3 (classify is offline), with the least it needs to get past parsing.
COMMANDS = {
    "backfill": ["backfill", "--bucket", "b"],
    "lifecycle apply": ["lifecycle", "apply", "--bucket", "b"],
    "lifecycle remove": ["lifecycle", "remove", "--bucket", "b"],
    "lifecycle show": ["lifecycle", "show", "--bucket", "b"],
    "plan": ["plan", "--bucket", "b"],
    "restore": ["restore", "--bucket", "b"],
    "status": ["status", "--bucket", "b"],
    "check": ["check", "--bucket", "b"],
}

MALFORMED = {
    "space": ("not a url", "must start with http:// or https://"),
    "no scheme": ("127.0.0.1:9000", "must start with http:// or https://"),
    "other scheme": ("ftp://127.0.0.1:9000", "must start with http:// or https://"),
    "no host": ("http://", "names no host"),
    "bad port": ("http://127.0.0.1:port", "is not a URL"),
    "port too big": ("http://127.0.0.1:99999", "is not a URL"),
    "path": ("http://127.0.0.1:9000/my-bucket", "without a path or query"),
    "query": ("http://127.0.0.1:9000?x=1", "without a path or query"),
    "credentials": ("http://user:secret@127.0.0.1:9000", "must not carry credentials"),
    "bad host": ("http://bad_host!:9000", "is not a valid host name"),
}


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com", "http://[::1]:9000/"]
)
def test_a_server_url_is_accepted_as_given(url: str) -> None:
    assert check_endpoint_url(url) == url


@pytest.mark.parametrize(("url", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_url_is_refused_saying_why(url: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message):
        check_endpoint_url(url)


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize(("url", "message"), [MALFORMED["space"], MALFORMED["path"]], ids=["space", "path"])
def test_every_command_refuses_a_malformed_endpoint_as_a_usage_error(
    command: list[str], url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--endpoint-url", url])

    err = capsys.readouterr().err
    name = " ".join(command[: 2 if command[0] == "lifecycle" else 1])
    assert exited.value.code == 2
    assert f"glacierable {name}: error: argument --endpoint-url: {url!r} " in err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
@pytest.mark.parametrize(
    "command",
    [COMMANDS["backfill"], COMMANDS["lifecycle show"], COMMANDS["plan"]],
    ids=["backfill", "lifecycle", "plan"],
)
def test_a_malformed_endpoint_from_the_environment_is_a_usage_error_naming_the_variable(
    command: list[str], variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, "localhost:9000")

    with pytest.raises(SystemExit) as exited:
        main(command)

    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert f"error: {variable}: 'localhost:9000' must start with http:// or https://" in err
    assert "Traceback" not in err


def test_the_s3_endpoint_variable_wins_over_the_general_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")

    assert s3_client().meta.endpoint_url == "http://127.0.0.1:1"
