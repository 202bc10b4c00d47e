"""Every file real duplicity writes parses as duplicity itself parses it, and is classified by its kind."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from glacierable.classify import classify
from glacierable.names import DuplicityName, Kind, parse_name
from glacierable_dev.duplicity_runner import DUPLICITY, PAR2, PAR2_MISSING_REASON
from tests.duplicity_scenarios import SCENARIOS, Scenario, duplicity_fields, run_scenario

pytestmark = [
    pytest.mark.duplicity,
    pytest.mark.skipif(not DUPLICITY.exists(), reason=f"duplicity is not installed at {DUPLICITY}"),
]

Written = tuple[Scenario, dict[str, DuplicityName]]


def scenario_param(scenario: Scenario) -> object:
    marks = [pytest.mark.skipif(PAR2 is None, reason=PAR2_MISSING_REASON)] if scenario.par2 else []
    return pytest.param(scenario, id=scenario.name, marks=marks)


@pytest.fixture(scope="module", params=[scenario_param(scenario) for scenario in SCENARIOS])
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The names one scenario's backups wrote, each with our parse of it (None fails here, by name)."""
    scenario: Scenario = request.param
    names = run_scenario(scenario, tmp_path_factory.mktemp(scenario.name))
    parsed = {name: parse_name(name) for name in names}
    unparsed = [name for name, result in parsed.items() if result is None]
    assert not unparsed, f"duplicity wrote names we do not parse: {unparsed}"
    return scenario, {name: result for name, result in parsed.items() if result is not None}


def test_every_name_parses_as_duplicity_parses_it(written: Written) -> None:
    scenario, names = written
    for name, parsed in names.items():
        assert asdict(parsed) == duplicity_fields(name, scenario), name


def test_names_carry_the_backup_times(written: Written) -> None:
    scenario, names = written
    assert {parsed.end_time for parsed in names.values()} == set(scenario.times)
    previous = dict(zip(scenario.times[1:], scenario.times, strict=False))
    for parsed in names.values():
        assert parsed.start_time == (None if parsed.full else previous[parsed.end_time])
        assert parsed.full is (parsed.end_time == scenario.times[0])


def test_every_kind_is_written_with_numbered_volumes(written: Written) -> None:
    scenario, names = written
    files = [parsed for parsed in names.values() if not parsed.par2]
    expected_kinds = {Kind.VOLUME, Kind.MANIFEST, Kind.SIGNATURE}
    if scenario.jsonstat:
        expected_kinds.add(Kind.JSONSTAT)
    assert {parsed.kind for parsed in files} == expected_kinds
    for at in scenario.times:
        volumes = sorted(p.volume or 0 for p in files if p.kind is Kind.VOLUME and p.end_time == at)
        assert volumes == list(range(1, len(volumes) + 1))
    full_volumes = [p for p in files if p.kind is Kind.VOLUME and p.full]
    assert len(full_volumes) == scenario.full_bytes // 1_000_000 + 1


def test_suffixes_follow_the_encryption_and_compression_options(written: Written) -> None:
    scenario, names = written
    for name, parsed in names.items():
        assert parsed.encrypted is scenario.encrypted, name
        # duplicity never gzips manifests, and gpg compresses encrypted files itself.
        gzipped = scenario.compressed and not scenario.encrypted and parsed.kind is not Kind.MANIFEST
        assert parsed.compressed is gzipped, name


def test_prefixes_are_the_file_prefix_then_the_type_prefix(written: Written) -> None:
    scenario, names = written
    type_option = {Kind.VOLUME: "archive", Kind.MANIFEST: "manifest", Kind.SIGNATURE: "signature"}
    for name, parsed in names.items():
        file_type = type_option.get(parsed.kind, "jsonstat")
        assert parsed.prefix == scenario.prefixes.get("", "") + scenario.prefixes.get(file_type, ""), name


def test_par2_files_protect_every_file_and_parse_as_it(written: Written) -> None:
    scenario, names = written
    par2_files = {name: parsed for name, parsed in names.items() if parsed.par2}
    if not scenario.par2:
        assert par2_files == {}
        return
    protected = {name: parsed for name, parsed in names.items() if not parsed.par2}
    assert {parsed.protected for parsed in par2_files.values()} == set(protected)
    assert len(par2_files) == 2 * len(protected)  # `<name>.par2` and one `<name>.volA+B.par2`
    for name, parsed in par2_files.items():
        assert asdict(parsed) == {**asdict(protected[parsed.protected]), "par2": True}, name


@pytest.mark.parametrize("folder", ["", "backups/", "manifests/", "my signatures/été/"])
def test_only_volumes_and_their_par2_files_are_glacierable(written: Written, folder: str) -> None:
    _, names = written
    for name, parsed in names.items():
        decision = classify(folder + name)
        assert (decision.glacierable, decision.kind) == (parsed.kind is Kind.VOLUME, parsed.kind.value), name
