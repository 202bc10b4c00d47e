"""Approximate restore cost and time per storage class and retrieval tier (a dated us-east-1 price table).

The whole bill of a restore has four parts (`restore_cost`): the retrieval fee per GB, the per-request
fee, the restored copies kept at the Standard price for `days`, and the download. The download (data
transfer out to the internet) is usually the largest: the estimate assumes the restore runs on a machine
outside AWS, with the account's 100 GB of free transfer out this month not yet used; restoring to an
EC2 instance in the bucket's Region transfers for free (`transfer_out=False`).

Prices change and differ per Region: treat every figure as an estimate and check
https://aws.amazon.com/s3/pricing/ before a large restore. Times are AWS's documented ranges
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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

DAYS_PER_MONTH = 30
"""S3 prorates storage per day of a 30-day month (restored copies are billed per day kept)."""

TRANSFER_FREE_GIB_PER_MONTH = 100
"""Data transfer out to the internet: the first 100 GB a month are free (per account, all services)."""

TRANSFER_OUT_PER_GIB: tuple[tuple[float, float], ...] = (
    (10 * 1024, 0.09),
    (40 * 1024, 0.085),
    (100 * 1024, 0.07),
    (float("inf"), 0.05),
)
"""Data transfer out to the internet beyond the free 100 GB: (GB in this band, $ per GB), in order."""

RESTORE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
"""Classes read only after RestoreObject; GLACIER_IR is read directly and keeps no restored copy."""


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


@dataclass(frozen=True, slots=True)
class RestoreCost:
    """The whole approximate bill of one restore with one tier, part by part, and its time range."""

    tier: Tier
    days: int
    object_count: int
    total_bytes: int
    retrieval_usd: float
    """Retrieval fees per GB."""
    requests_usd: float
    """Retrieval fees per request."""
    copies_usd: float
    """The restored copies, billed at the Standard price for `days`."""
    transfer_usd: float
    """Downloading the data (0 with `transfer_out=False`: restoring inside the bucket's Region)."""
    transfer_out: bool
    hours_min: float
    hours_max: float

    @property
    def total_usd(self) -> float:
        """Every part together."""
        return self.retrieval_usd + self.requests_usd + self.copies_usd + self.transfer_usd

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict: each part, the total, the time range and the assumptions."""
        return {
            "tier": self.tier.value,
            "days": self.days,
            "object_count": self.object_count,
            "bytes": self.total_bytes,
            "retrieval_usd": self.retrieval_usd,
            "requests_usd": self.requests_usd,
            "copies_usd": self.copies_usd,
            "transfer_usd": self.transfer_usd,
            "total_usd": self.total_usd,
            "hours_min": self.hours_min,
            "hours_max": self.hours_max,
            "transfer_out": self.transfer_out,
            "assumptions": cost_assumptions(self.transfer_out),
            "prices_date": PRICES_DATE,
            "region": PRICES_REGION,
            "approximate": True,
        }


def cost_from_json(data: Mapping[str, Any]) -> RestoreCost:
    """Read `RestoreCost.to_json`'s dict back (KeyError, TypeError or ValueError when it is not one)."""
    return RestoreCost(
        tier=parse_tier(str(data["tier"])),
        days=int(data["days"]),
        object_count=int(data["object_count"]),
        total_bytes=int(data["bytes"]),
        retrieval_usd=float(data["retrieval_usd"]),
        requests_usd=float(data["requests_usd"]),
        copies_usd=float(data["copies_usd"]),
        transfer_usd=float(data["transfer_usd"]),
        transfer_out=bool(data["transfer_out"]),
        hours_min=float(data["hours_min"]),
        hours_max=float(data["hours_max"]),
    )


def cost_assumptions(transfer_out: bool = True) -> str:
    """What `restore_cost` assumes, in one sentence."""
    where = (
        "restored to a machine outside AWS: transfer out at $0.09/GB after the month's first "
        f"{TRANSFER_FREE_GIB_PER_MONTH} GB (free, if not used yet); inside the bucket's Region it is free"
        if transfer_out
        else "restored inside the bucket's Region: no transfer charge"
    )
    return f"approximate {PRICES_REGION} list prices of {PRICES_DATE}; {where}"


def transfer_out_cost(total_bytes: int) -> float:
    """Data transfer out to the internet for `total_bytes`, after the month's free allowance."""
    remaining = max(0.0, total_bytes / GIB - TRANSFER_FREE_GIB_PER_MONTH)
    cost = 0.0
    for band, per_gib in TRANSFER_OUT_PER_GIB:
        used = min(remaining, band)
        cost += used * per_gib
        remaining -= used
        if remaining <= 0:
            break
    return cost


def restore_cost(
    by_class: Mapping[str, tuple[int, int]],
    tier: Tier | str,
    *,
    days: int,
    transfer_out: bool = True,
    download_bytes: int | None = None,
) -> RestoreCost:
    """The bill for restoring `by_class` (storage class -> (objects, bytes)) with `tier`, copies kept `days`.

    `download_bytes` is what the restore then downloads (default: the restored bytes); it is larger when
    some needed objects are readable already. Raises PricingError when a class does not offer `tier`
    (Expedited for DEEP_ARCHIVE).
    """
    if days < 0:
        raise PricingError(f"days must not be negative, got {days}")
    tier = parse_tier(tier) if isinstance(tier, str) and not isinstance(tier, Tier) else tier
    retrieval = requests = copies = 0.0
    hours_min = hours_max = 0.0
    count = size = 0
    for storage_class, (objects, class_bytes) in sorted(by_class.items()):
        estimate(storage_class, tier, objects, class_bytes)  # refuses unknown classes and tiers
        rate = _RATES[(storage_class, tier)]
        retrieval += class_bytes / GIB * rate.per_gib
        requests += objects / 1000 * rate.per_1000_requests
        if storage_class in RESTORE_CLASSES:
            copies += class_bytes / GIB * STORAGE_PRICE_PER_GIB_MONTH["STANDARD"] * days / DAYS_PER_MONTH
        hours_min, hours_max = max(hours_min, rate.hours_min), max(hours_max, rate.hours_max)
        count, size = count + objects, size + class_bytes
    return RestoreCost(
        tier=tier,
        days=days,
        object_count=count,
        total_bytes=size,
        retrieval_usd=retrieval,
        requests_usd=requests,
        copies_usd=copies,
        transfer_usd=transfer_out_cost(size if download_bytes is None else download_bytes)
        if transfer_out
        else 0.0,
        transfer_out=transfer_out,
        hours_min=hours_min,
        hours_max=hours_max,
    )
