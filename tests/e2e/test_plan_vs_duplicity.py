"""The plan's volumes are what `duplicity restore --dry-run -t T` lists, for real backups and many T."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from glacierable.listing import ListedObject
from glacierable.names import DuplicityPrefixes, format_time
from glacierable.plan import PlanError, RestorePlan, plan_restore
from glacierable.timespec import local_standard_offset, parse_restore_time
from glacierable_dev.duplicity_runner import PAR2, PAR2_MISSING_REASON, file_url, par2_url
from glacierable_dev.source_tree import write_random
from tests.duplicity_oracle import required_volumes
from tests.duplicity_scenarios import duplicity

pytestmark = pytest.mark.duplicity

# duplicity parses `-t` against the real clock (`--current-time` applies only after the command line is
# read), so the backups are dated relative to now for "now" and intervals to fall between known sets.
F1 = int(time.time()) - 10 * 86400
I1 = F1 + 3600
I2 = F1 + 7200
F2 = F1 + 5 * 86400
I3 = F2 + 3600

FOLDER = "backups/host1/"
PREFIXES_A = DuplicityPrefixes(
    file_prefix="hostA_", archive="data_", manifest="meta_", signature="sig_", jsonstat="stat_"
)


@dataclass(frozen=True)
class Target:
    path: Path
    url: str
    options: tuple[str, ...] = ()

    def listing(self, storage_class: str = "GLACIER") -> list[ListedObject]:
        """The target folder as an S3 listing under FOLDER, every object in `storage_class`."""
        return [
            ListedObject(key=FOLDER + entry.name, size=entry.stat().st_size, storage_class=storage_class)
            for entry in sorted(self.path.iterdir())
            if entry.is_file()
        ]


def _basenames(keys: tuple[str, ...] | list[str]) -> list[str]:
    return [key.rpartition("/")[2] for key in keys]


def _plan(target: Target, restore_time: str, prefixes: DuplicityPrefixes | None = None) -> RestorePlan:
    at = parse_restore_time(restore_time, now=int(time.time()))
    return plan_restore(target.listing(), at, prefixes, folder=FOLDER)


def _w3(epoch: int, offset_hours: int) -> str:
    """`epoch` as a W3 datetime in a zone `offset_hours` east of UTC."""
    local = time.gmtime(epoch + offset_hours * 3600)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{offset_hours:+03d}:00"


def _local_date(epoch: int) -> str:
    """The local (standard time) date of `epoch`, as duplicity reads a bare date: midnight local."""
    return time.strftime("%Y/%m/%d", time.gmtime(epoch + local_standard_offset()))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("plan-vs-duplicity")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def two_chains(workdir: Path) -> Target:
    """Encrypted backups: full, inc, inc, then full, inc; several volumes per set."""
    source, target, archive = workdir / "src", workdir / "two-chains", workdir / "archive"
    runner = duplicity()
    source.mkdir()
    write_random(source / "base.bin", 2_500_000, seed=1, at=F1)
    url = file_url(target)
    runner.backup(source, url, full=True, at=F1, archive_dir=archive, volsize=1)
    write_random(source / "inc1.bin", 1_200_000, seed=2, at=I1)
    runner.backup(source, url, full=False, at=I1, archive_dir=archive, volsize=1)
    write_random(source / "inc2.bin", 1_200_000, seed=3, at=I2)
    runner.backup(source, url, full=False, at=I2, archive_dir=archive, volsize=1)
    (source / "inc1.bin").unlink()
    runner.backup(source, url, full=True, at=F2, archive_dir=archive, volsize=1)
    write_random(source / "inc3.bin", 1_200_000, seed=4, at=I3)
    runner.backup(source, url, full=False, at=I3, archive_dir=archive, volsize=1)
    return Target(target, url)


@pytest.fixture(scope="module")
def shared_folder(workdir: Path) -> Target:
    """Two backups in one folder: A with every prefix option and --jsonstat, B with no prefixes."""
    source, target = workdir / "src-shared", workdir / "shared"
    archive_a, archive_b, runner = workdir / "archive-a", workdir / "archive-b", duplicity()
    source.mkdir()
    write_random(source / "base.bin", 1_500_000, seed=5, at=F1)
    url = file_url(target)
    options_a = ["--no-encryption", "--jsonstat", *PREFIXES_A.options()]
    options_b = ["--no-encryption"]
    runner.backup(source, url, full=True, at=F1, archive_dir=archive_a, volsize=1, options=options_a)
    runner.backup(source, url, full=True, at=F1 + 600, archive_dir=archive_b, volsize=1, options=options_b)
    write_random(source / "more.bin", 1_200_000, seed=6, at=I1)
    runner.backup(source, url, full=False, at=I1, archive_dir=archive_a, volsize=1, options=options_a)
    runner.backup(source, url, full=False, at=I1 + 600, archive_dir=archive_b, volsize=1, options=options_b)
    return Target(target, url)


@pytest.fixture(scope="module")
def par2_target(workdir: Path) -> Target:
    if PAR2 is None:
        pytest.skip(PAR2_MISSING_REASON)
    source, target, archive = workdir / "src-par2", workdir / "par2", workdir / "archive-par2"
    runner = duplicity()
    source.mkdir()
    write_random(source / "base.bin", 1_500_000, seed=7, at=F1)
    url = par2_url(target)
    runner.backup(source, url, full=True, at=F1, archive_dir=archive, volsize=1)
    write_random(source / "more.bin", 1_200_000, seed=8, at=I1)
    runner.backup(source, url, full=False, at=I1, archive_dir=archive, volsize=1)
    runner.backup(source, url, full=True, at=F2, archive_dir=archive, volsize=1)
    return Target(target, url)


TWO_CHAIN_TIMES = [
    pytest.param(str(F1 - 86400), id="before-first-full"),
    pytest.param(_w3(F1, 1), id="first-full-w3-with-offset"),
    pytest.param(str(F1 + 1800), id="between-full-and-inc"),
    pytest.param(str(I1), id="first-inc"),
    pytest.param(format_time(I2), id="second-inc-filename-form"),
    pytest.param(_local_date(F1 + 2 * 86400), id="after-first-chain-as-date"),
    pytest.param("1W2D", id="after-first-chain-as-interval"),
    pytest.param("5D", id="second-full-as-interval"),
    pytest.param(str(I3), id="last-inc"),
    pytest.param("now", id="now"),
    pytest.param("0", id="zero-means-now"),
]


@pytest.mark.parametrize("restore_time", TWO_CHAIN_TIMES)
def test_two_chains_plan_lists_what_duplicity_reads(two_chains: Target, restore_time: str) -> None:
    expected = required_volumes(two_chains.url, restore_time)
    plan = _plan(two_chains, restore_time)
    assert _basenames(plan.data_volumes) == expected


def test_two_chains_everything_needed_is_archived_so_all_is_to_restore(two_chains: Target) -> None:
    plan = _plan(two_chains, "now")
    assert [obj.key for obj in plan.to_restore] == plan.volumes
    assert set(plan.data_volumes) <= set(plan.volumes)
    assert plan.chain.full_time == F2 and plan.chain.incremental_times == (I3,)


def test_two_chains_readable_metadata_is_not_needed(two_chains: Target) -> None:
    listing = [
        obj if ".difftar" in obj.key else ListedObject(obj.key, obj.size, "STANDARD")
        for obj in two_chains.listing()
    ]
    plan = plan_restore(listing, I2, folder=FOLDER)
    assert plan.volumes == list(plan.data_volumes)


@pytest.mark.parametrize(
    ("prefixes", "restore_time"),
    [
        pytest.param(PREFIXES_A, str(F1), id="A-full"),
        pytest.param(PREFIXES_A, "now", id="A-now"),
        pytest.param(None, str(F1 + 600), id="B-full"),
        pytest.param(None, "now", id="B-now"),
    ],
)
def test_shared_folder_plan_sees_only_its_own_backup(
    shared_folder: Target, prefixes: DuplicityPrefixes | None, restore_time: str
) -> None:
    options = (prefixes or DuplicityPrefixes()).options()
    expected = required_volumes(shared_folder.url, restore_time, options=["--no-encryption", *options])
    plan = _plan(shared_folder, restore_time, prefixes)
    assert _basenames(plan.data_volumes) == expected


def test_shared_folder_archived_metadata_of_only_this_backup_is_needed(shared_folder: Target) -> None:
    plan = _plan(shared_folder, "now", PREFIXES_A)
    metadata = [name for name in _basenames(plan.volumes) if ".difftar" not in name]
    assert metadata and all(name.startswith("hostA_") for name in metadata)
    assert any(".jsonstat" in name for name in metadata)


@pytest.mark.parametrize("restore_time", [pytest.param(str(I1), id="inc"), pytest.param("now", id="now")])
def test_par2_plan_lists_what_duplicity_reads(par2_target: Target, restore_time: str) -> None:
    expected = required_volumes(par2_target.url, restore_time)
    plan = _plan(par2_target, restore_time)
    assert _basenames(plan.data_volumes) == expected


def test_par2_every_volume_brings_its_par2_files(par2_target: Target) -> None:
    plan = _plan(par2_target, str(I1))
    names = {entry.name for entry in par2_target.path.iterdir()}
    needed = set(_basenames(plan.volumes))
    for volume in _basenames(plan.data_volumes):
        companions = {n for n in names if n.startswith(volume + ".") and n.endswith(".par2")}
        assert volume + ".par2" in companions
        assert companions <= needed
    # The second chain's files are never needed for a time inside the first.
    assert not any(format_time(F2) in name and ".difftar" in name for name in needed)


def test_missing_last_signature_drops_the_last_incremental_as_duplicity_does(
    two_chains: Target, workdir: Path
) -> None:
    copy = workdir / "no-last-signature"
    shutil.copytree(two_chains.path, copy)
    # Only the first chain (full, inc, inc) remains, without its last incremental's signatures.
    for entry in copy.iterdir():
        if format_time(F2) in entry.name:
            entry.unlink()
    (copy / f"duplicity-new-signatures.{format_time(I1)}.to.{format_time(I2)}.sigtar.gpg").unlink()
    target = Target(copy, file_url(copy))
    expected = required_volumes(target.url, "now")
    plan = _plan(target, "now")
    assert _basenames(plan.data_volumes) == expected
    assert plan.chain.incremental_times == (I1,)


def test_missing_signature_of_a_chains_only_incremental_keeps_it_as_duplicity_does(
    two_chains: Target, workdir: Path
) -> None:
    # duplicity compares with the set before the last one's end time, which a full set lacks.
    copy = workdir / "no-only-signature"
    shutil.copytree(two_chains.path, copy)
    (copy / f"duplicity-new-signatures.{format_time(F2)}.to.{format_time(I3)}.sigtar.gpg").unlink()
    target = Target(copy, file_url(copy))
    expected = required_volumes(target.url, "now")
    plan = _plan(target, "now")
    assert _basenames(plan.data_volumes) == expected
    assert plan.chain.incremental_times == (I3,)


def test_missing_manifest_in_the_chosen_sets_fails_like_duplicity(two_chains: Target, workdir: Path) -> None:
    copy = workdir / "no-manifest"
    shutil.copytree(two_chains.path, copy)
    (copy / f"duplicity-inc.{format_time(I1)}.to.{format_time(I2)}.manifest.gpg").unlink()
    result = duplicity().run(
        "restore",
        "--dry-run",
        "--archive-dir",
        str(workdir / "archive-no-manifest"),
        "-t",
        str(I2),
        file_url(copy),
        str(workdir / "out"),
        check=False,
    )
    assert result.returncode != 0 and "No remote manifest name" in result.stderr
    with pytest.raises(PlanError, match="no manifest"):
        _plan(Target(copy, file_url(copy)), str(I2))
    # A time before the broken set still works, for both.
    assert _basenames(_plan(Target(copy, file_url(copy)), str(I1)).data_volumes) == required_volumes(
        file_url(copy), str(I1)
    )
