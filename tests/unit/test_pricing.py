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
    tiers_for,
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
