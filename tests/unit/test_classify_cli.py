"""`glacierable classify` prints the tagger's decision per key, as a table or as JSON lines."""

from __future__ import annotations

import io
import json

import pytest

from glacierable_cli.main import main

VOLUME = "backups/duplicity-full.20231114T221320Z.vol1.difftar.gpg"
MANIFEST = "backups/duplicity-full.20231114T221320Z.manifest.gpg"
PAR2 = "backups/duplicity-full.20231114T221320Z.vol1.difftar.gpg.vol000+199.par2"


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_json_prints_one_object_per_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "--json", VOLUME, MANIFEST, "notes.txt"]) == 0
    assert json_lines(capsys.readouterr().out) == [
        {"record": "name", "key": VOLUME, "glacierable": True, "kind": "volume", "par2": False},
        {"record": "name", "key": MANIFEST, "glacierable": False, "kind": "manifest", "par2": False},
        {"record": "name", "key": "notes.txt", "glacierable": False, "kind": "unknown", "par2": False},
    ]


def test_json_marks_par2_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "--json", PAR2]) == 0
    assert json_lines(capsys.readouterr().out) == [
        {"record": "name", "key": PAR2, "glacierable": True, "kind": "volume", "par2": True}
    ]


def test_archive_unknown_archives_unknown_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "--json", "--archive-unknown", "notes.txt", MANIFEST]) == 0
    assert [line["glacierable"] for line in json_lines(capsys.readouterr().out)] == [True, False]


def test_table_shows_key_decision_and_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", VOLUME, "notes.txt"]) == 0
    header, volume_row, unknown_row = capsys.readouterr().out.splitlines()
    assert header.split() == ["KEY", "GLACIERABLE", "KIND"]
    assert volume_row.split() == [VOLUME, "true", "volume"]
    assert unknown_row.split() == ["notes.txt", "false", "unknown"]


def test_dash_reads_keys_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{VOLUME}\n\n my key.txt \r\n{MANIFEST}"))
    assert main(["classify", "--json", "-", "notes.txt"]) == 0
    keys = [line["key"] for line in json_lines(capsys.readouterr().out)]
    assert keys == [VOLUME, " my key.txt ", MANIFEST, "notes.txt"]


def test_keys_keep_unicode_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    key = "sauvegardes/été/duplicity-full.20231114T221320Z.vol1.difftar.gz"
    assert main(["classify", "--json", key]) == 0
    out = capsys.readouterr().out
    assert "été" in out
    assert json_lines(out)[0]["glacierable"] is True


def test_no_key_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["classify"])
    assert exit_info.value.code == 2


def test_a_key_with_control_characters_is_printed_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "notes\x1b[2J\rfake.txt"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    assert "notes\\x1b[2J\\rfake.txt" in out
