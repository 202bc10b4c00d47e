"""Approximate restore cost and time per storage class and retrieval tier (a dated us-east-1 price table).

Prices change and differ per Region: treat every figure as an estimate and check
https://aws.amazon.com/s3/pricing/ before a large restore. Times are AWS's documented ranges
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PRICES_DATE = "2026-11-26"
"""When the table below was last compared with AWS's pricing page (approximate, secondary sources)."""

PRICES_REGION = "us-east-1"

GIB = 1024**3
"""S3 bills per GB of 2^30 bytes."""


class Tier(StrEnum):
    """RestoreObject retrieval tiers."""

    EXPEDITED = "Expedited"
    STANDARD = "Standard"
    BULK = "Bulk"


class PricingError(ValueError):
    """A storage class or tier with no restore price (unknown, or a tier the class does not offer)."""


@dataclass(frozen=True, slots=True)
class _Rate:
    per_gib: float
    per_1000_requests: float
    hours_min: float
    hours_max: float


# (storage class, tier) -> rate. Deep Archive has no Expedited tier: RestoreObject refuses it.
# GLACIER_IR needs no restore: its "rate" is the retrieval fee duplicity's GETs pay, available at once.
_RATES: dict[tuple[str, Tier], _Rate] = {
    ("GLACIER", Tier.EXPEDITED): _Rate(0.03, 10.0, 1 / 60, 5 / 60),
    ("GLACIER", Tier.STANDARD): _Rate(0.01, 0.05, 3.0, 5.0),
    ("GLACIER", Tier.BULK): _Rate(0.0, 0.0, 5.0, 12.0),
    # AWS promises "within 12 hours" / "within 48 hours": the minimum 0 means "up to".
    ("DEEP_ARCHIVE", Tier.STANDARD): _Rate(0.02, 0.10, 0.0, 12.0),
    ("DEEP_ARCHIVE", Tier.BULK): _Rate(0.0025, 0.025, 0.0, 48.0),
    ("GLACIER_IR", Tier.EXPEDITED): _Rate(0.03, 0.01, 0.0, 0.0),
    ("GLACIER_IR", Tier.STANDARD): _Rate(0.03, 0.01, 0.0, 0.0),
    ("GLACIER_IR", Tier.BULK): _Rate(0.03, 0.01, 0.0, 0.0),
}

STORAGE_PRICE_PER_GIB_MONTH = {
    "STANDARD": 0.023,
    "GLACIER_IR": 0.004,
    "GLACIER": 0.0036,
    "DEEP_ARCHIVE": 0.00099,
}
"""Storage prices per GB-month (restored temporary copies are billed at the STANDARD price)."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """Approximate cost and time of restoring `object_count` objects of one class with one tier."""

    cost_usd: float
    hours_min: float
    hours_max: float
    prices_date: str
    region: str
    storage_class: str
    tier: Tier

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "storage_class": self.storage_class,
            "tier": str(self.tier),
            "cost_usd": round(self.cost_usd, 4),
            "hours_min": self.hours_min,
            "hours_max": self.hours_max,
            "prices_date": self.prices_date,
            "region": self.region,
            "approximate": True,
        }


def parse_tier(text: str) -> Tier:
    """A tier from its name, case-insensitively ("standard" → Tier.STANDARD)."""
    for tier in Tier:
        if text.lower() == tier.value.lower():
            return tier
    raise PricingError(f"unknown retrieval tier {text!r}; expected one of {', '.join(t.value for t in Tier)}")


def tiers_for(storage_class: str) -> tuple[Tier, ...]:
    """The tiers with an estimate for `storage_class`, fastest first (all three, and 0 h, for GLACIER_IR)."""
    return tuple(tier for tier in Tier if (storage_class, tier) in _RATES)


def estimate(storage_class: str, tier: Tier | str, object_count: int, total_bytes: int) -> Estimate:
    """Cost and time to restore; raises PricingError for an unknown class or a tier it lacks."""
    tier = parse_tier(tier) if isinstance(tier, str) and not isinstance(tier, Tier) else tier
    if object_count < 0 or total_bytes < 0:
        raise PricingError(f"negative object count or size: {object_count} objects, {total_bytes} bytes")
    rate = _RATES.get((storage_class, tier))
    if rate is None:
        offered = ", ".join(t.value for t in tiers_for(storage_class)) or "none (not an archive class)"
        raise PricingError(f"no {tier.value} retrieval for class {storage_class!r}; offered: {offered}")
    cost = total_bytes / GIB * rate.per_gib + object_count / 1000 * rate.per_1000_requests
    return Estimate(
        cost_usd=cost,
        hours_min=rate.hours_min,
        hours_max=rate.hours_max,
        prices_date=PRICES_DATE,
        region=PRICES_REGION,
        storage_class=storage_class,
        tier=tier,
    )


def estimates(storage_class: str, object_count: int, total_bytes: int) -> dict[Tier, Estimate]:
    """An estimate for every tier `storage_class` offers (empty for a class that needs no restore)."""
    tiers = tiers_for(storage_class)
    return {tier: estimate(storage_class, tier, object_count, total_bytes) for tier in tiers}
