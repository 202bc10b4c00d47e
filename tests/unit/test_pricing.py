"""Restore cost and time estimates come from a dated, Region-specific price table."""

from __future__ import annotations

import pytest

from glacierable.pricing import (
    GIB,
    PRICES_DATE,
    PRICES_REGION,
    PricingError,
    Tier,
    estimate,
    estimates,
    parse_tier,
    restore_cost,
    tiers_for,
    transfer_out_cost,
)


@pytest.mark.parametrize(
    ("storage_class", "tier", "cost"),
    [
        ("GLACIER", Tier.STANDARD, 10 * 0.01 + 2 * 0.05),
        ("GLACIER", Tier.BULK, 0.0),
        ("GLACIER", Tier.EXPEDITED, 10 * 0.03 + 2 * 10.0),
        ("DEEP_ARCHIVE", Tier.STANDARD, 10 * 0.02 + 2 * 0.10),
        ("DEEP_ARCHIVE", Tier.BULK, 10 * 0.0025 + 2 * 0.025),
    ],
)
def test_cost_is_per_gib_plus_per_thousand_requests(storage_class: str, tier: Tier, cost: float) -> None:
    result = estimate(storage_class, tier, object_count=2000, total_bytes=10 * GIB)
    assert result.cost_usd == pytest.approx(cost)


@pytest.mark.parametrize(
    ("storage_class", "tier", "hours"),
    [
        ("GLACIER", Tier.EXPEDITED, (1 / 60, 5 / 60)),
        ("GLACIER", Tier.STANDARD, (3.0, 5.0)),
        ("GLACIER", Tier.BULK, (5.0, 12.0)),
        ("DEEP_ARCHIVE", Tier.STANDARD, (0.0, 12.0)),
        ("DEEP_ARCHIVE", Tier.BULK, (0.0, 48.0)),
        ("GLACIER_IR", Tier.STANDARD, (0.0, 0.0)),
    ],
)
def test_time_ranges_follow_aws_docs(storage_class: str, tier: Tier, hours: tuple[float, float]) -> None:
    result = estimate(storage_class, tier, 1, 1)
    assert (result.hours_min, result.hours_max) == pytest.approx(hours)


def test_glacier_ir_costs_its_retrieval_fee_and_no_wait() -> None:
    result = estimate("GLACIER_IR", Tier.BULK, object_count=1000, total_bytes=GIB)
    assert result.cost_usd == pytest.approx(0.03 + 0.01)
    assert result.hours_max == 0.0


def test_expedited_for_deep_archive_is_a_pricing_error() -> None:
    with pytest.raises(PricingError, match=r"no Expedited retrieval.*DEEP_ARCHIVE.*offered: Standard, Bulk"):
        estimate("DEEP_ARCHIVE", Tier.EXPEDITED, 1, 1)


def test_unknown_storage_class_is_a_pricing_error() -> None:
    with pytest.raises(PricingError, match="STANDARD_IA"):
        estimate("STANDARD_IA", Tier.STANDARD, 1, 1)


def test_negative_counts_are_a_pricing_error() -> None:
    with pytest.raises(PricingError, match="negative"):
        estimate("GLACIER", Tier.STANDARD, -1, 0)


def test_estimate_carries_the_table_date_and_region() -> None:
    result = estimate("GLACIER", "standard", 1, 1)
    assert (result.prices_date, result.region, result.tier) == (PRICES_DATE, PRICES_REGION, Tier.STANDARD)
    assert result.to_json()["approximate"] is True


def test_tier_names_parse_case_insensitively() -> None:
    assert parse_tier("bULK") is Tier.BULK


def test_unknown_tier_is_a_pricing_error() -> None:
    with pytest.raises(PricingError, match="Expedited, Standard, Bulk"):
        parse_tier("fast")


def test_deep_archive_offers_standard_and_bulk_only() -> None:
    assert tiers_for("DEEP_ARCHIVE") == (Tier.STANDARD, Tier.BULK)
    assert set(estimates("DEEP_ARCHIVE", 1, 1)) == {Tier.STANDARD, Tier.BULK}


def test_standard_class_has_no_estimates() -> None:
    assert estimates("STANDARD", 1, 1) == {}


# --- the whole bill ------------------------------------------------------------------------------


def test_a_terabyte_of_flexible_retrieval_costs_mostly_its_download() -> None:
    tib = 1024 * GIB
    cost = restore_cost({"GLACIER": (5000, tib)}, Tier.STANDARD, days=7)

    assert cost.retrieval_usd == pytest.approx(1024 * 0.01)
    assert cost.requests_usd == pytest.approx(5 * 0.05)
    assert cost.copies_usd == pytest.approx(1024 * 0.023 * 7 / 30)  # ≈ $5.50
    assert cost.transfer_usd == pytest.approx((1024 - 100) * 0.09)  # ≈ $83
    assert cost.total_usd == pytest.approx(
        cost.retrieval_usd + cost.requests_usd + cost.copies_usd + cost.transfer_usd
    )
    assert cost.transfer_usd > cost.retrieval_usd + cost.requests_usd + cost.copies_usd


def test_restoring_inside_the_region_pays_no_transfer() -> None:
    cost = restore_cost({"GLACIER": (10, 500 * GIB)}, Tier.BULK, days=3, transfer_out=False)
    assert cost.transfer_usd == 0.0
    assert cost.total_usd == pytest.approx(500 * 0.023 * 3 / 30)
    assert "no transfer charge" in cost.to_json()["assumptions"]  # type: ignore[operator]


def test_the_first_100_gb_of_download_are_free_and_later_bands_are_cheaper() -> None:
    assert transfer_out_cost(100 * GIB) == 0.0
    assert transfer_out_cost(101 * GIB) == pytest.approx(0.09)
    beyond_first_band = transfer_out_cost((100 + 10 * 1024 + 1) * GIB)
    assert beyond_first_band == pytest.approx(10 * 1024 * 0.09 + 0.085)


def test_glacier_ir_keeps_no_restored_copy() -> None:
    cost = restore_cost({"GLACIER_IR": (1000, GIB)}, Tier.STANDARD, days=30, transfer_out=False)
    assert cost.copies_usd == 0.0
    assert cost.total_usd == pytest.approx(0.03 + 0.01)


def test_several_classes_share_one_free_allowance_and_take_the_slowest_time() -> None:
    cost = restore_cost({"GLACIER": (1, 80 * GIB), "DEEP_ARCHIVE": (1, 80 * GIB)}, Tier.BULK, days=1)
    assert cost.transfer_usd == pytest.approx(60 * 0.09)
    assert (cost.hours_min, cost.hours_max) == (5.0, 48.0)
    assert (cost.object_count, cost.total_bytes) == (2, 160 * GIB)


def test_a_tier_one_class_lacks_is_refused_for_the_whole_bill() -> None:
    with pytest.raises(PricingError, match="no Expedited retrieval"):
        restore_cost({"GLACIER": (1, 1), "DEEP_ARCHIVE": (1, 1)}, Tier.EXPEDITED, days=1)


def test_the_bill_names_its_assumptions_and_date() -> None:
    document = restore_cost({"GLACIER": (1, GIB)}, Tier.STANDARD, days=7).to_json()
    assert document["prices_date"] == PRICES_DATE and document["region"] == PRICES_REGION
    assert "outside AWS" in str(document["assumptions"])
    assert set(document) >= {"retrieval_usd", "requests_usd", "copies_usd", "transfer_usd", "total_usd"}
