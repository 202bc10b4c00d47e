"""The restore plan picks duplicity's chain and sets for a time, from a listing alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from glacierable.listing import ListedObject, ListingError, RestoreState, listed_objects
from glacierable.names import DuplicityPrefixes, format_time
from glacierable.plan import NoChainsError, PlanError, RestorePlan, plan_restore
from glacierable.pricing import PricingError, Tier

FOLDER = "backups/host1/"
H = 3600
F1 = 1_700_000_000
F2 = F1 + 86400


def full_set(t: int, volumes: int = 2, prefix: str = "", *, sig: bool = True) -> list[str]:
    names = [f"{prefix}duplicity-full.{format_time(t)}.vol{n}.difftar.gpg" for n in range(1, volumes + 1)]
    names.append(f"{prefix}duplicity-full.{format_time(t)}.manifest.gpg")
    if sig:
        names.append(f"{prefix}duplicity-full-signatures.{format_time(t)}.sigtar.gpg")
    return names


def inc_set(t1: int, t2: int, volumes: int = 1, prefix: str = "", *, sig: bool = True) -> list[str]:
    span = f"{format_time(t1)}.to.{format_time(t2)}"
    names = [f"{prefix}duplicity-inc.{span}.vol{n}.difftar.gpg" for n in range(1, volumes + 1)]
    names.append(f"{prefix}duplicity-inc.{span}.manifest.gpg")
    if sig:
        names.append(f"{prefix}duplicity-new-signatures.{span}.sigtar.gpg")
    return names


def listing(names: list[str], storage_class: str = "GLACIER", size: int = 1000) -> list[ListedObject]:
    return [ListedObject(FOLDER + name, size, storage_class) for name in sorted(names)]


def two_chains() -> list[str]:
    return [
        *full_set(F1, 3),
        *inc_set(F1, F1 + H, 2),
        *inc_set(F1 + H, F1 + 2 * H, 1),
        *full_set(F2, 2),
        *inc_set(F2, F2 + H, 1),
    ]


def plan(names: list[str], at: int, prefixes: DuplicityPrefixes | None = None) -> RestorePlan:
    return plan_restore(listing(names), at, prefixes, folder=FOLDER)


def vols(result: RestorePlan) -> list[str]:
    return [key.rpartition("/")[2] for key in result.data_volumes]


def data_of(names: list[str]) -> list[str]:
    return [n for n in names if ".difftar" in n]


# --- which sets ---


def test_full_volumes_come_in_volume_number_order_not_key_order() -> None:
    names = full_set(F1, 11)
    expected = [f"duplicity-full.{format_time(F1)}.vol{n}.difftar.gpg" for n in range(1, 12)]
    assert vols(plan(names, F1)) == expected


def test_time_at_a_full_takes_only_that_full() -> None:
    assert vols(plan(two_chains(), F2)) == data_of(full_set(F2, 2))


def test_time_between_incrementals_takes_the_full_and_the_incrementals_ending_by_then() -> None:
    expected = data_of(full_set(F1, 3)) + data_of(inc_set(F1, F1 + H, 2))
    assert vols(plan(two_chains(), F1 + H + 10)) == expected


def test_time_after_a_chain_and_before_the_next_full_takes_that_whole_chain() -> None:
    expected = data_of([*full_set(F1, 3), *inc_set(F1, F1 + H, 2), *inc_set(F1 + H, F1 + 2 * H)])
    assert vols(plan(two_chains(), F2 - 1)) == expected


def test_time_before_every_backup_takes_the_earliest_full() -> None:
    assert vols(plan(two_chains(), F1 - 10 * 86400)) == data_of(full_set(F1, 3))


def test_time_after_everything_takes_the_latest_chain() -> None:
    expected = data_of(full_set(F2, 2)) + data_of(inc_set(F2, F2 + H))
    assert vols(plan(two_chains(), F2 + 100 * 86400)) == expected


def test_chain_summary_names_full_and_incremental_times() -> None:
    result = plan(two_chains(), F1 + H + 10)
    assert result.chain.full_time == F1
    assert result.chain.incremental_times == (F1 + H,)
    assert result.chain.later_incremental_times == (F1 + 2 * H,)
    assert result.chain.volume_count == 5
    assert result.chain.volume_bytes == 5000


def test_no_full_backup_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="no backup chains"):
        plan(inc_set(F1, F1 + H), F1 + H)


def test_empty_listing_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="no backup chains"):
        plan([], F1)


def test_orphaned_incremental_is_ignored() -> None:
    names = [*full_set(F1), *inc_set(F1 + 5, F1 + H)]
    assert vols(plan(names, F1 + 2 * H)) == data_of(full_set(F1))


def test_longer_incremental_from_the_same_start_replaces_the_last_one() -> None:
    names = [*full_set(F1), *inc_set(F1, F1 + H), *inc_set(F1, F1 + 2 * H)]
    assert vols(plan(names, F1 + 3 * H)) == data_of(full_set(F1)) + data_of(inc_set(F1, F1 + 2 * H))


def test_two_chains_covering_the_time_is_a_plan_error() -> None:
    # An incremental continuing the first chain past the second full makes both cover F2.
    names = [*full_set(F1), *inc_set(F1, F2 + H), *full_set(F2)]
    with pytest.raises(PlanError, match="two backup chains cover"):
        plan(names, F2)


# --- sets duplicity cannot use ---


def test_selected_set_without_manifest_is_a_plan_error_naming_an_earlier_time() -> None:
    names = [n for n in two_chains() if not n.endswith(f"{format_time(F2 + H)}.manifest.gpg")]
    with pytest.raises(PlanError, match=f"no manifest.*before {format_time(F2 + H)}"):
        plan(names, F2 + 2 * H)


def test_set_without_manifest_after_the_time_does_not_matter() -> None:
    names = [n for n in two_chains() if not n.endswith(f"{format_time(F2 + H)}.manifest.gpg")]
    assert vols(plan(names, F2)) == data_of(full_set(F2, 2))


def test_gap_in_volume_numbers_is_a_warning() -> None:
    names = [n for n in full_set(F1, 3) if ".vol2." not in n]
    result = plan(names, F1)
    assert len(result.warnings) == 1 and "lacks volume(s) 2" in result.warnings[0]


def test_complete_sets_give_no_warning() -> None:
    assert plan(two_chains(), F2 + H).warnings == ()


def test_same_volume_listed_twice_is_a_plan_error() -> None:
    names = [*full_set(F1), f"duplicity-full.{format_time(F1)}.vol1.difftar.gz"]
    with pytest.raises(PlanError, match=r"volume 1 .* listed twice"):
        plan(names, F1)


def test_missing_last_signature_drops_the_last_of_two_or_more_incrementals() -> None:
    names = [*full_set(F1), *inc_set(F1, F1 + H), *inc_set(F1 + H, F1 + 2 * H, sig=False)]
    result = plan(names, F2)
    assert result.chain.incremental_times == (F1 + H,)


def test_missing_signature_of_a_chains_only_incremental_keeps_it() -> None:
    # duplicity compares with the end time of the set before the last one; a full set has none.
    names = [n for n in two_chains() if not n.startswith("duplicity-new-signatures." + format_time(F2))]
    assert plan(names, F2 + 2 * H).chain.incremental_times == (F2 + H,)


# --- whose files ---


def test_files_with_other_prefixes_are_another_backups_and_ignored() -> None:
    names = [*full_set(F1, 2), *full_set(F1 + 60, 3, prefix="other_")]
    assert vols(plan(names, F2)) == data_of(full_set(F1, 2))


def test_prefix_options_select_that_backup_by_file_type() -> None:
    prefixes = DuplicityPrefixes(file_prefix="h2_", archive="data_", manifest="meta_", signature="sig_")
    own = [
        f"h2_data_duplicity-full.{format_time(F1)}.vol1.difftar.gz",
        f"h2_meta_duplicity-full.{format_time(F1)}.manifest",
        f"h2_sig_duplicity-full-signatures.{format_time(F1)}.sigtar.gz",
    ]
    names = [*own, *full_set(F1 + 60, 2), f"h2_duplicity-full.{format_time(F1)}.vol2.difftar.gz"]
    result = plan(names, F2, prefixes)
    assert vols(result) == [own[0]]
    assert {key.rpartition("/")[2] for key in result.volumes} == set(own)


def test_keys_in_sub_folders_are_not_duplicitys() -> None:
    deeper = [ListedObject(FOLDER + "old/" + n, 1, "GLACIER") for n in full_set(F2)]
    objects = [*listing(full_set(F1, 1)), *deeper]
    assert vols(plan_restore(objects, F2, folder=FOLDER)) == data_of(full_set(F1, 1))


def test_keys_outside_the_folder_are_ignored() -> None:
    elsewhere = [ListedObject("elsewhere/" + n, 1, "GLACIER") for n in full_set(F2)]
    objects = [*listing(full_set(F1, 1)), *elsewhere]
    assert vols(plan_restore(objects, F2, folder=FOLDER)) == data_of(full_set(F1, 1))


def test_without_a_folder_one_folder_of_backup_files_is_used() -> None:
    objects = [*listing(full_set(F1, 1)), ListedObject(FOLDER + "readme.txt", 5, "STANDARD")]
    assert vols(plan_restore(objects, F2)) == data_of(full_set(F1, 1))


def test_without_a_folder_backup_files_in_two_folders_are_a_plan_error() -> None:
    objects = [*listing(full_set(F1, 1)), *(ListedObject("other/" + n, 1, "GLACIER") for n in full_set(F2))]
    with pytest.raises(PlanError, match="several folders"):
        plan_restore(objects, F2)


def test_prefix_options_render_as_duplicity_spells_them() -> None:
    prefixes = DuplicityPrefixes(file_prefix="h_", jsonstat="s_")
    assert prefixes.options() == ["--file-prefix", "h_", "--file-prefix-jsonstat", "s_"]


# --- what is needed ---


def test_par2_files_follow_their_volume_but_are_not_data_volumes() -> None:
    names = full_set(F1, 2)
    vol1 = names[0]
    par2 = [f"{vol1}.par2", f"{vol1}.vol000+01.par2", f"{names[1]}.par2"]
    result = plan([*names, *par2], F1)
    keys = [k.rpartition("/")[2] for k in result.volumes]
    assert vols(result) == data_of(names)
    assert keys[keys.index(vol1) + 1 : keys.index(vol1) + 3] == sorted(par2[:2])
    assert f"{names[1]}.par2" in keys


def test_archived_metadata_of_every_chain_is_needed() -> None:
    result = plan(two_chains(), F2)
    needed = [k.rpartition("/")[2] for k in result.volumes]
    metadata = [n for n in two_chains() if ".difftar" not in n]
    assert sorted(n for n in needed if ".difftar" not in n) == sorted(metadata)


def test_readable_metadata_is_not_needed() -> None:
    names = two_chains()
    objects = [ListedObject(FOLDER + n, 10, "GLACIER" if ".difftar" in n else "STANDARD") for n in names]
    result = plan_restore(objects, F2, folder=FOLDER)
    assert result.volumes == list(result.data_volumes)


def test_archived_metadata_comes_before_data_volumes() -> None:
    keys = plan(two_chains(), F2).volumes
    first_volume = next(i for i, k in enumerate(keys) if ".difftar" in k)
    assert all(".difftar" in k for k in keys[first_volume:])


def test_states_split_needed_objects_into_to_restore_readable_and_in_progress() -> None:
    names = full_set(F1, 5)
    done = RestoreState(in_progress=False, expiry=datetime(2030, 1, 1, tzinfo=UTC))
    classes = [
        ListedObject(FOLDER + names[0], 1, "GLACIER"),
        ListedObject(FOLDER + names[1], 2, "DEEP_ARCHIVE"),
        ListedObject(FOLDER + names[2], 4, "GLACIER_IR"),
        ListedObject(FOLDER + names[3], 8, "GLACIER", RestoreState(in_progress=True)),
        ListedObject(FOLDER + names[4], 16, "GLACIER", done),
        *(ListedObject(FOLDER + n, 32, "STANDARD") for n in names[5:]),
    ]
    result = plan_restore(classes, F1, folder=FOLDER)
    assert [o.key for o in result.to_restore] == [FOLDER + names[0], FOLDER + names[1]]
    assert [o.key for o in result.in_progress] == [FOLDER + names[3]]
    assert [o.key for o in result.readable] == [FOLDER + names[2], FOLDER + names[4]]
    data = result.to_json()
    sizes = {group: data[f"{group}_bytes"] for group in ("needed", "to_restore", "readable", "in_progress")}
    assert sizes == {"needed": 31, "to_restore": 3, "readable": 20, "in_progress": 8}


def test_to_json_has_counts_key_lists_and_the_chain() -> None:
    data = plan(two_chains(), F2 + H).to_json()
    groups = ("needed", "to_restore", "readable", "in_progress")
    assert {f"{g}_{field}" for g in groups for field in ("count", "bytes", "keys")} <= set(data)
    assert data["to_restore_keys"] == data["needed_keys"]
    assert data["needed_count"] == len(data["needed_keys"])  # type: ignore[arg-type]
    chain = data["chain"]
    assert isinstance(chain, dict) and chain["full_time_text"] == format_time(F2)


def test_to_json_without_keys_has_only_counts() -> None:
    result = plan(two_chains(), F2 + H)
    data = result.to_json(keys=False)
    assert not [name for name in data if name.endswith("_keys")]
    assert (data["data_volume_count"], data["needed_count"]) == (len(result.data_volumes), len(result.needed))


def test_estimate_groups_to_restore_by_storage_class() -> None:
    names = full_set(F1, 2)
    objects = [
        ListedObject(FOLDER + names[0], 2**30, "GLACIER"),
        ListedObject(FOLDER + names[1], 2**30, "DEEP_ARCHIVE"),
        *(ListedObject(FOLDER + n, 1, "STANDARD") for n in names[2:]),
    ]
    estimates = plan_restore(objects, F1, folder=FOLDER).estimate(Tier.STANDARD)
    assert [(e.storage_class, round(e.cost_usd, 5)) for e in estimates] == [
        ("DEEP_ARCHIVE", 0.0201),
        ("GLACIER", 0.01005),
    ]


def test_expedited_with_deep_archive_volumes_is_refused_and_left_out_of_json() -> None:
    objects = [ListedObject(FOLDER + n, 10, "DEEP_ARCHIVE") for n in full_set(F1)]
    result = plan_restore(objects, F1, folder=FOLDER)
    with pytest.raises(PricingError, match="Expedited"):
        result.estimate("Expedited")
    assert result.usable_tiers() == (Tier.STANDARD, Tier.BULK)


def test_one_hundred_thousand_listed_objects_plan_with_correct_counts() -> None:
    names = [
        *full_set(F1, 30_000),
        *inc_set(F1, F1 + H, 9_992),
        *full_set(F2, 40_000),
        *inc_set(F2, F2 + H, 20_000),
    ]
    assert len(names) == 100_000
    result = plan_restore(listing(names), F2 + 2 * H, folder=FOLDER)
    assert result.chain.volume_count == 60_000
    assert len(result.data_volumes) == 60_000
    assert len(result.to_restore) == 60_000 + 8  # all volumes, plus both chains' manifests and signatures


# --- listing entries ---


def test_listing_entry_from_contents_with_restore_status() -> None:
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    item = {
        "Key": "a/b",
        "Size": 5,
        "StorageClass": "GLACIER",
        "RestoreStatus": {"IsRestoreInProgress": False, "RestoreExpiryDate": expiry},
        "ETag": '"x"',
    }
    assert ListedObject.from_contents(item) == ListedObject("a/b", 5, "GLACIER", RestoreState(False, expiry))


def test_listing_entry_without_storage_class_is_standard() -> None:
    entry = ListedObject.from_contents({"Key": "k", "Size": 1})
    assert entry.storage_class == "STANDARD" and entry.readable and not entry.archived


def test_listing_entry_without_key_is_a_listing_error() -> None:
    with pytest.raises(ListingError, match="Key"):
        ListedObject.from_contents({"Size": 1})


def test_listed_objects_flattens_pages() -> None:
    pages = [{"Contents": [{"Key": "a", "Size": 1}]}, {}, {"Contents": [{"Key": "b", "Size": 2}]}]
    assert [o.key for o in listed_objects(pages)] == ["a", "b"]


@pytest.mark.parametrize(
    ("header", "state"),
    [
        ('ongoing-request="true"', RestoreState(True, None)),
        (
            'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
            RestoreState(False, datetime(2012, 12, 21, tzinfo=UTC)),
        ),
    ],
)
def test_restore_header_parses(header: str, state: RestoreState) -> None:
    assert RestoreState.from_header(header) == state


def test_restore_header_without_ongoing_request_is_a_listing_error() -> None:
    with pytest.raises(ListingError):
        RestoreState.from_header("expiry-date=x")


# --- what the plan tells the user -----------------------------------------------------------------


def test_a_backup_with_par2_files_is_marked_par2() -> None:
    names = full_set(F1, 1)
    assert not plan(names, F1).par2
    assert plan([*names, *(f"{n}.par2" for n in names)], F1).par2


def test_no_chains_with_these_prefixes_names_the_prefixes_that_hold_backups() -> None:
    names = [*full_set(F1, 1, prefix="hostA_"), *full_set(F1, 1, prefix="hostB_")]
    with pytest.raises(NoChainsError) as error:
        plan(names, F1)
    assert "--file-prefix hostA_ or --file-prefix hostB_" in str(error.value)
    assert error.value.other_prefixes == (
        DuplicityPrefixes(file_prefix="hostA_"),
        DuplicityPrefixes(file_prefix="hostB_"),
    )


def test_per_type_prefixes_are_suggested_per_type() -> None:
    names = [
        f"h_data_duplicity-full.{format_time(F1)}.vol1.difftar.gpg",
        f"h_meta_duplicity-full.{format_time(F1)}.manifest.gpg",
        f"h_sig_duplicity-full-signatures.{format_time(F1)}.sigtar.gpg",
    ]
    with pytest.raises(NoChainsError) as error:
        plan(names, F1)
    (suggested,) = error.value.other_prefixes
    assert suggested == DuplicityPrefixes(archive="h_data_", manifest="h_meta_", signature="h_sig_")
    found = plan(names, F1, suggested)  # the suggestion is right: it plans
    assert len(found.data_volumes) == 1


def test_a_time_before_the_first_backup_warns() -> None:
    assert not plan(two_chains(), F1).warnings
    (warning,) = plan(two_chains(), F1 - 1).warnings
    assert "before the first backup" in warning and format_time(F1) in warning


def test_cost_bills_every_needed_byte_for_download_and_only_archived_ones_for_retrieval() -> None:
    names = full_set(F1, 2)
    objects = [
        ListedObject(FOLDER + names[0], 200 * 2**30, "GLACIER"),
        ListedObject(FOLDER + names[1], 100 * 2**30, "STANDARD"),
        *(ListedObject(FOLDER + n, 1, "STANDARD") for n in names[2:]),
    ]
    cost = plan_restore(objects, F1, folder=FOLDER).cost(Tier.STANDARD, days=30)
    assert cost.retrieval_usd == pytest.approx(200 * 0.01)
    assert cost.copies_usd == pytest.approx(200 * 0.023)
    assert cost.transfer_usd == pytest.approx(200 * 0.09)  # 300 GB downloaded, 100 of them free
