"""The check finds each problem, and only it, from a constructed listing, tags and rules (pure code)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from glacierable.check import (
    DAY,
    MIN_TRANSITION_BYTES,
    UNTAGGED_GRACE_SECONDS,
    CheckedObject,
    CheckReport,
    Problem,
    ProblemCode,
    check_backups,
    needs_tag,
    set_name,
)
from glacierable.lifecycle import ABORT_MPU_RULE_ID, ARCHIVE_RULE_ID, Rule, our_rules
from glacierable.listing import ListedObject
from glacierable.names import DuplicityPrefixes, format_time
from glacierable.pricing import Tier

FOLDER = "hosts/a/"
BUCKET = "backups"
NOW = 1_750_000_000
F1 = NOW - 30 * DAY
I1 = F1 + DAY
I2 = I1 + DAY
VOLUME_BYTES = 200 * 1024 * 1024
METADATA_BYTES = 4096


def full_keys(t: int, volumes: Sequence[int] = (1, 2), prefix: str = "") -> list[str]:
    keys = [f"{prefix}duplicity-full.{format_time(t)}.vol{n}.difftar.gpg" for n in volumes]
    keys.append(f"{prefix}duplicity-full.{format_time(t)}.manifest.gpg")
    keys.append(f"{prefix}duplicity-full-signatures.{format_time(t)}.sigtar.gpg")
    return keys


def inc_keys(t1: int, t2: int, volumes: Sequence[int] = (1,)) -> list[str]:
    span = f"{format_time(t1)}.to.{format_time(t2)}"
    keys = [f"duplicity-inc.{span}.vol{n}.difftar.gpg" for n in volumes]
    keys.append(f"duplicity-inc.{span}.manifest.gpg")
    keys.append(f"duplicity-new-signatures.{span}.sigtar.gpg")
    return keys


def healthy_names() -> list[str]:
    return [*full_keys(F1), *inc_keys(F1, I1), *inc_keys(I1, I2)]


def stored(name: str, *, folder: str = FOLDER, written: int | None = None) -> CheckedObject:
    """As the tagger and the rule leave a file: volumes archived, metadata in STANDARD tagged false."""
    key = folder + name
    written = F1 if written is None else written
    if ".difftar" in name:
        return CheckedObject(ListedObject(key, VOLUME_BYTES, "GLACIER"), written)
    return CheckedObject(ListedObject(key, METADATA_BYTES, "STANDARD"), written, tag="false")


def backup(names: Sequence[str] | None = None) -> list[CheckedObject]:
    return [stored(name) for name in (healthy_names() if names is None else names)]


def check(
    objects: Sequence[CheckedObject],
    rules: Sequence[Rule] | None = None,
    *,
    now: int = NOW,
    days: int | None = None,
    prefixes: DuplicityPrefixes | None = None,
    notification_overlaps: Sequence[str] = (),
) -> CheckReport:
    return check_backups(
        objects,
        our_rules() if rules is None else rules,
        bucket=BUCKET,
        prefix="",
        now=now,
        days=days,
        prefixes=prefixes,
        endpoint_url="http://127.0.0.1:9000",
        notification_overlaps=notification_overlaps,
    )


def only(report: CheckReport) -> Problem:
    (problem,) = report.problems
    return problem


def replaced(objects: list[CheckedObject], name: str, new: CheckedObject) -> list[CheckedObject]:
    return [new if obj.key == FOLDER + name else obj for obj in objects]


def test_a_healthy_backup_has_no_problems() -> None:
    report = check(backup())

    assert report.problems == ()
    assert report.healthy
    assert report.backup_found


def test_a_healthy_backup_is_one_chain_with_its_sets_and_volumes() -> None:
    (chain,) = check(backup()).chains

    assert chain.folder == FOLDER
    assert chain.full_time == F1
    assert chain.incremental_times == (I1, I2)
    assert chain.volume_count == 4
    assert chain.volume_bytes == 4 * VOLUME_BYTES
    assert set(chain.volume_classes) == {"GLACIER"}
    assert chain.volume_classes["GLACIER"].count == 4
    assert chain.object_count == 10


def test_storage_cost_prices_each_class_with_the_archive_overhead() -> None:
    (chain,) = check(backup(full_keys(F1, volumes=(1,)))).chains

    gib = 1024**3
    volume = (VOLUME_BYTES + 32 * 1024) / gib * 0.0036 + 8 * 1024 / gib * 0.023
    metadata = 2 * METADATA_BYTES / gib * 0.023
    assert chain.storage_usd_per_month == pytest.approx(volume + metadata)


def test_a_class_without_a_price_is_named_not_guessed() -> None:
    objects = backup(full_keys(F1, volumes=(1,)))
    volume = objects[0]
    objects[0] = CheckedObject(ListedObject(volume.key, 1000, "STANDARD_IA"), F1, tag="true")

    (chain,) = check(objects).chains

    assert chain.unpriced_classes == ("STANDARD_IA",)


def test_the_latest_point_is_priced_for_each_tier_glacier_offers() -> None:
    (chain,) = check(backup()).chains

    assert chain.restore_time == I2
    assert [cost.tier for cost in chain.restore_costs] == [Tier.EXPEDITED, Tier.STANDARD, Tier.BULK]
    assert all(cost.object_count == 4 for cost in chain.restore_costs)
    assert chain.restore_error is None


def test_deep_archive_has_no_expedited_price() -> None:
    objects = [
        CheckedObject(ListedObject(o.key, o.listed.size, "DEEP_ARCHIVE"), F1) if o.listed.archived else o
        for o in backup()
    ]

    (chain,) = check(objects).chains

    assert [cost.tier for cost in chain.restore_costs] == [Tier.STANDARD, Tier.BULK]


def test_a_gap_in_volume_numbers_is_a_missing_volume_of_its_set() -> None:
    names = [*full_keys(F1, volumes=(1, 2, 4, 6)), *inc_keys(F1, I1)]

    problem = only(check(backup(names)))

    assert problem.code is ProblemCode.MISSING_VOLUME
    assert problem.set == set_name(FOLDER, True, None, F1) == f"{FOLDER}duplicity-full.{format_time(F1)}"
    assert "volume(s) 3, 5 " in problem.detail
    assert "highest listed is 6" in problem.detail
    assert "missing last volume cannot be seen" in problem.detail


def test_a_gap_in_volume_numbers_is_a_warning_on_the_latest_point_restore() -> None:
    names = [*full_keys(F1, volumes=(1, 3)), *inc_keys(F1, I1)]

    (chain,) = check(backup(names)).chains

    (warning,) = chain.restore_warnings
    assert "lacks volume(s) 2" in warning


def test_a_set_with_a_manifest_and_no_volume_lacks_volume_1() -> None:
    names = [*full_keys(F1), *inc_keys(F1, I1, volumes=())]

    problem = only(check(backup(names)))

    assert problem.code is ProblemCode.MISSING_VOLUME
    assert problem.set == set_name(FOLDER, False, F1, I1)
    assert "volume(s) 1 (none is listed" in problem.detail


def test_a_set_without_its_manifest_is_missing_manifest() -> None:
    names = [
        n
        for n in healthy_names()
        if n != f"duplicity-inc.{format_time(F1)}.to.{format_time(I1)}.manifest.gpg"
    ]

    report = check(backup(names))

    problem = only(report)
    assert problem.code is ProblemCode.MISSING_MANIFEST
    assert problem.set == set_name(FOLDER, False, F1, I1)
    assert problem.commands == (
        "duplicity cleanup --s3-endpoint-url http://127.0.0.1:9000 boto3+s3://backups/hosts/a",
    )
    (chain,) = report.chains
    assert chain.restore_costs == ()
    assert chain.restore_error is not None and "has no manifest" in chain.restore_error


def test_a_set_without_its_signature_is_missing_signature() -> None:
    names = [n for n in healthy_names() if "full-signatures" not in n]

    problem = only(check(backup(names)))

    assert problem.code is ProblemCode.MISSING_SIGNATURE
    assert problem.set == set_name(FOLDER, True, None, F1)


def test_an_archived_manifest_is_metadata_archived_with_commands_to_bring_it_back() -> None:
    name = f"duplicity-full.{format_time(F1)}.manifest.gpg"
    objects = replaced(backup(), name, CheckedObject(ListedObject(FOLDER + name, 4096, "GLACIER"), F1))

    problem = only(check(objects))

    assert problem.code is ProblemCode.METADATA_ARCHIVED
    assert problem.key == FOLDER + name
    restore, copy = problem.commands
    assert restore.startswith(f"aws s3api restore-object --bucket backups --key {FOLDER + name} ")
    assert "--storage-class STANDARD --tagging-directive REPLACE --tagging glacierable=false" in copy


def test_an_archived_signature_and_jsonstat_are_metadata_archived_too() -> None:
    names = [
        f"duplicity-full-signatures.{format_time(F1)}.sigtar.gpg",
        f"duplicity-full.{format_time(F1)}.jsonstat",
    ]
    objects = backup([*full_keys(F1), names[1]])
    for name in names:
        objects = replaced(
            objects, name, CheckedObject(ListedObject(FOLDER + name, 4096, "DEEP_ARCHIVE"), F1)
        )

    report = check(objects)

    assert [(p.code, p.key) for p in report.problems] == [
        (ProblemCode.METADATA_ARCHIVED, FOLDER + names[0]),
        (ProblemCode.METADATA_ARCHIVED, FOLDER + names[1]),
    ]


def test_a_manifest_in_glacier_instant_retrieval_is_readable_and_no_problem() -> None:
    name = f"duplicity-full.{format_time(F1)}.manifest.gpg"
    objects = replaced(backup(), name, CheckedObject(ListedObject(FOLDER + name, 4096, "GLACIER_IR"), F1))

    assert check(objects).problems == ()


def test_a_standard_duplicity_file_without_a_tag_is_untagged_with_a_backfill_of_its_folder() -> None:
    name = f"duplicity-inc.{format_time(I1)}.to.{format_time(I2)}.vol1.difftar.gpg"
    objects = replaced(
        backup(), name, CheckedObject(ListedObject(FOLDER + name, VOLUME_BYTES, "STANDARD"), I2)
    )

    problem = only(check(objects))

    assert problem.code is ProblemCode.UNTAGGED
    assert problem.key == FOLDER + name
    assert problem.commands == (
        "glacierable backfill --bucket backups --prefix hosts/a/ --endpoint-url http://127.0.0.1:9000",
    )


def test_an_untagged_file_written_within_the_grace_period_is_a_backup_running_now() -> None:
    written = NOW - UNTAGGED_GRACE_SECONDS + 60
    name = f"duplicity-inc.{format_time(I1)}.to.{format_time(I2)}.vol1.difftar.gpg"
    objects = replaced(
        backup(), name, CheckedObject(ListedObject(FOLDER + name, VOLUME_BYTES, "STANDARD"), written)
    )

    assert check(objects).problems == ()


def test_an_archived_volume_needs_no_tag() -> None:
    objects = backup()
    assert all(obj.tag is None for obj in objects if obj.listed.archived)

    assert check(objects).problems == ()


def test_only_standard_duplicity_files_have_their_tags_read() -> None:
    assert needs_tag(ListedObject("a/duplicity-full.20240101T000000Z.vol1.difftar.gpg", 1, "STANDARD"))
    assert not needs_tag(ListedObject("a/duplicity-full.20240101T000000Z.vol1.difftar.gpg", 1, "GLACIER"))
    assert not needs_tag(ListedObject("a/notes.txt", 1, "STANDARD"))


def test_an_untagged_file_that_is_no_duplicity_file_is_no_problem() -> None:
    objects = [*backup(), CheckedObject(ListedObject(FOLDER + "notes.txt", 10, "STANDARD"), F1)]

    assert check(objects).problems == ()


def volume_in_standard(written: int, size: int = VOLUME_BYTES, tag: str = "true") -> list[CheckedObject]:
    name = f"duplicity-inc.{format_time(I1)}.to.{format_time(I2)}.vol1.difftar.gpg"
    return replaced(
        backup(), name, CheckedObject(ListedObject(FOLDER + name, size, "STANDARD"), written, tag)
    )


def test_a_tagged_volume_still_in_standard_after_the_rule_days_and_margin_is_volume_not_archived() -> None:
    problem = only(check(volume_in_standard(NOW - 4 * DAY)))  # rule: 1 day, + 2 days margin

    assert problem.code is ProblemCode.VOLUME_NOT_ARCHIVED
    assert problem.key is not None and problem.key.endswith(".vol1.difftar.gpg")
    assert problem.commands == (
        "glacierable lifecycle show --bucket backups --endpoint-url http://127.0.0.1:9000",
    )


def test_a_tagged_volume_within_the_rule_days_and_margin_is_not_late_yet() -> None:
    assert check(volume_in_standard(NOW - 2 * DAY)).problems == ()


def test_the_rule_days_come_from_the_bucket_rule() -> None:
    objects = volume_in_standard(NOW - 4 * DAY)

    assert check(objects, our_rules(days=5)).problems == ()
    assert only(check(objects, our_rules(days=1))).code is ProblemCode.VOLUME_NOT_ARCHIVED


def test_days_given_override_the_bucket_rule() -> None:
    objects = volume_in_standard(NOW - 4 * DAY)

    report = check(objects, our_rules(days=1), days=5)

    assert report.days == 5
    assert report.problems == ()


def test_a_volume_under_128_kib_is_never_transitioned_and_no_problem() -> None:
    assert check(volume_in_standard(NOW - 10 * DAY, size=MIN_TRANSITION_BYTES - 1)).problems == ()


def test_a_volume_tagged_false_stays_in_standard_by_choice() -> None:
    assert check(volume_in_standard(NOW - 10 * DAY, tag="false")).problems == ()


def test_an_incremental_whose_full_is_gone_is_an_orphan() -> None:
    names = inc_keys(F1, I1)

    report = check(backup(names))

    assert report.chains == ()
    assert [p.code for p in report.problems] == [ProblemCode.ORPHAN_INCREMENTAL]
    assert report.problems[0].set == set_name(FOLDER, False, F1, I1)
    assert report.backup_found


def test_an_incremental_after_a_deleted_incremental_is_an_orphan() -> None:
    names = [*full_keys(F1), *inc_keys(I1, I2)]

    problem = only(check(backup(names)))

    assert problem.code is ProblemCode.ORPHAN_INCREMENTAL
    assert problem.set == set_name(FOLDER, False, I1, I2)


def test_no_archive_rule_is_no_lifecycle_rule_with_the_apply_command() -> None:
    rules = [rule for rule in our_rules() if rule["ID"] != ARCHIVE_RULE_ID]

    problem = only(check(backup(), rules))

    assert problem.code is ProblemCode.NO_LIFECYCLE_RULE
    assert ARCHIVE_RULE_ID in problem.detail
    assert problem.key is None and problem.set is None
    assert problem.commands == (
        "glacierable lifecycle apply --bucket backups --endpoint-url http://127.0.0.1:9000",
    )


def test_a_disabled_rule_is_no_lifecycle_rule_and_its_settings_are_kept_in_the_command() -> None:
    rules = our_rules(prefix="hosts/", days=3, storage_class="DEEP_ARCHIVE")
    rules[0]["Status"] = "Disabled"

    problem = only(check(backup(), rules))

    assert problem.code is ProblemCode.NO_LIFECYCLE_RULE
    assert f"{ARCHIVE_RULE_ID} is Disabled" in problem.detail
    assert problem.commands == (
        "glacierable lifecycle apply --bucket backups --prefix hosts/ --days 3 --storage-class DEEP_ARCHIVE "
        "--endpoint-url http://127.0.0.1:9000",
    )


def test_both_rules_missing_are_one_problem() -> None:
    problem = only(check(backup(), []))

    assert ARCHIVE_RULE_ID in problem.detail and ABORT_MPU_RULE_ID in problem.detail


def test_a_rule_for_another_prefix_does_not_cover_this_backup() -> None:
    problem = only(check(backup(), our_rules(prefix="hosts/b/")))

    assert problem.code is ProblemCode.NO_LIFECYCLE_RULE
    assert "'hosts/a/'" in problem.detail
    assert "--prefix hosts/ " in problem.commands[0]


def test_volumes_are_not_reported_late_when_no_rule_would_move_them() -> None:
    report = check(volume_in_standard(NOW - 10 * DAY), [])

    assert [p.code for p in report.problems] == [ProblemCode.NO_LIFECYCLE_RULE]


def test_each_overlapping_notification_is_a_problem() -> None:
    report = check(backup(), notification_overlaps=["configuration 'to-lambda' (ObjectCreated:*, prefix '')"])

    problem = only(report)
    assert problem.code is ProblemCode.NOTIFICATION_OVERLAP
    assert "'to-lambda'" in problem.detail


def test_a_set_being_written_now_is_not_reported() -> None:
    first_volume = full_keys(NOW - 60, volumes=(1,))[0]  # uploaded a minute ago; no manifest yet
    objects = [*backup(), stored(first_volume, written=NOW - 60)]

    assert check(objects).problems == ()


def test_every_folder_is_its_own_backup() -> None:
    objects = [*backup(), *(stored(name, folder="hosts/b/") for name in full_keys(F1))]

    report = check(objects)

    assert [chain.folder for chain in report.chains] == ["hosts/a/", "hosts/b/"]
    assert report.problems == ()


def test_file_prefixes_select_the_backup_and_others_are_offered() -> None:
    objects = [stored(name) for name in full_keys(F1, prefix="h1_")]

    report = check(objects)

    assert not report.backup_found
    assert report.other_prefixes == (DuplicityPrefixes(file_prefix="h1_"),)
    assert len(check(objects, prefixes=DuplicityPrefixes(file_prefix="h1_")).chains) == 1


def test_problems_serialise_with_problem_key_set_and_detail() -> None:
    names = [n for n in healthy_names() if "full-signatures" not in n]

    document = only(check(backup(names))).to_json()

    assert document["problem"] == "missing-signature"
    assert document["key"] is None
    assert document["set"] == set_name(FOLDER, True, None, F1)
    assert isinstance(document["detail"], str) and document["detail"]


def test_the_report_counts_problems_per_code() -> None:
    counts = check(backup(), []).problem_counts()

    assert counts["no-lifecycle-rule"] == 1
    assert sum(counts.values()) == 1
    assert set(counts) == {code.value for code in ProblemCode}
