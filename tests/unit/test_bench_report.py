"""The benchmark's targets and Markdown report, from a results dict shaped like `make bench` writes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench.report import evaluate, markdown

CORES = {"moto": 0.6, "proxy": 0.1, "client": 0.4, "machine": 1.8, "others": 0.7}
CALLS = {"objects": 100, "calls": 200, "requests": 200, "calls_per_object": 2.0}
PLANNING = {
    "planned_objects": 110,
    "list_calls": 1,
    "list_calls_per_planned_object": 0.0091,
}
RESULTS: dict[str, Any] = {
    "date": "2026-11-26T10:36:32+00:00",
    "machine": {
        "platform": "Linux-6.1-x86_64",
        "python": "3.11.7",
        "processor": "x86_64",
        "cpu_count": 2,
        "load_average_1m_at_start": 3.34,
        "load_average_1m_at_end": 4.61,
    },
    "objects": 600,
    "latency_ms": 50.0,
    "serial": {"objects_per_second": 7.6, "seconds": 79.0, "objects": 600, "capped": False},
    "backfill": {"concurrency": 64, "objects_per_second": 120.0, "requests_per_second": 240.0},
    "restore": {
        "volumes": 600,
        "concurrency": 64,
        "serial": {"requests_per_second": 16.5, "seconds": 36.4, "objects": 600, "capped": False},
        "fan_out": {
            "requests_per_second": 200.0,
            "http_requests_per_second": 200.0,
            "objects": 600,
            "requested": 600,
            "failed": 0,
        },
        "speedup": 12.1,
        "ceiling_fraction": 0.8,
    },
    "ceiling": {"requests_per_second": 250.0, "threads": 16},
    "api_calls": {
        "tagger": {
            "first_delivery": {**CALLS, "by_operation": {"GetObjectTagging": 100, "PutObjectTagging": 100}},
            "redelivery": {
                **CALLS,
                "calls": 100,
                "calls_per_object": 1.0,
                "by_operation": {"GetObjectTagging": 100},
            },
        },
        "planning": {
            "folder_objects": 600,
            "emulator": {**PLANNING, "head_calls": 110, "heads_per_planned_object": 1.0},
            "aws": {**PLANNING, "head_calls": 0, "heads_per_planned_object": 0.0},
        },
    },
    "cold_import": {
        "runs": 9,
        "tagger_cpu_ms": 463.0,
        "baseline_cpu_ms": 448.0,
        "ratio_cpu": 1.034,
        "tagger_wall_ms": 465.0,
        "baseline_wall_ms": 450.0,
        "ratio_wall": 1.034,
        "extra_imports": [{"package": "aws_lambda_powertools.metrics", "ms": 3.1, "modules": 13}],
    },
    "plan_memory": {
        "objects": 100_000,
        "planned_objects": 109,
        "seconds": 3.6,
        "rss_peak_mb": 105.2,
        "rss_growth_mb": 34.5,
    },
    "cpu_cores_used": {"serial": CORES, "backfill": CORES},
    "speedup": 15.8,
    "ceiling_fraction_per_moto_cpu": 1.0,
    "ceiling_fraction": 0.96,
    "total_seconds": 190.0,
}


def results(**changes: Any) -> dict[str, Any]:
    """RESULTS with `changes` applied at paths (restore__speedup=3.0), and the targets evaluated."""
    changed = copy.deepcopy(RESULTS)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = changed
        for step in parents:
            node = node[step]
        node[last] = value
    changed["targets"] = evaluate(changed)
    changed["targets_met"] = all(t["met"] for t in changed["targets"].values())
    return changed


def row(report: str, starts: str) -> str:
    return next(line for line in report.splitlines() if line.startswith(f"| {starts}"))


def test_every_target_is_met_by_the_sample() -> None:
    assert {name: t["met"] for name, t in evaluate(RESULTS).items()} == {
        "backfill_speedup": True,
        "backfill_ceiling_fraction": True,
        "restore_speedup": True,
        "tagger_cold_import_ratio": True,
        "plan_memory_mb": True,
    }


@pytest.mark.parametrize(
    ("path", "value", "target"),
    [
        ("speedup", 14.9, "backfill_speedup"),
        ("ceiling_fraction", 0.79, "backfill_ceiling_fraction"),
        ("restore__speedup", 9.9, "restore_speedup"),
        ("cold_import__ratio_cpu", 1.26, "tagger_cold_import_ratio"),
        ("plan_memory__rss_growth_mb", 150.0, "plan_memory_mb"),
    ],
)
def test_a_value_past_its_bound_misses_its_target(path: str, value: float, target: str) -> None:
    assert results(**{path: value})["targets"][target]["met"] is False


def test_a_missing_measure_has_no_verdict() -> None:
    partial = copy.deepcopy(RESULTS)
    del partial["plan_memory"]
    assert evaluate(partial)["plan_memory_mb"] == {"value": None, "target": "< 150 MB", "met": None}


def test_report_says_when_a_serial_loop_was_capped() -> None:
    capped = {"objects_per_second": 7.6, "seconds": 100.0, "objects": 457, "capped": True}
    report = markdown(results(serial=capped))
    assert "457 of 600 objects in 100 s; capped by its time budget" in row(report, "Serial loop")


def test_report_gives_a_whole_serial_loop_without_a_cap_note() -> None:
    assert "capped" not in row(markdown(results()), "Serial loop")


def test_report_marks_a_missed_target_and_the_overall_verdict() -> None:
    report = markdown(results(restore__speedup=9.8))
    speedups = [line for line in report.splitlines() if line.startswith("| Speed-up")]
    assert speedups == ["| Speed-up | 15.8x | >= 15x | yes |", "| Speed-up | 9.8x | >= 10x | **no** |"]
    assert row(report, "**All targets met**") == "| **All targets met** | **no** |  |  |"


def test_report_shows_api_calls_per_object_for_tagger_and_planning() -> None:
    report = markdown(results())
    assert "2.00 (GetObjectTagging 100, PutObjectTagging 100)" in row(
        report, "Tagger handler, first delivery"
    )
    assert "1.00 (GetObjectTagging 100)" in row(report, "Tagger handler, redelivery")
    assert "HeadObject 0.00 per planned object" in row(report, "Planning on AWS")
    assert "HeadObject 1.00 per planned object" in row(report, "Planning on the emulator")


def test_report_names_the_machine_and_the_command() -> None:
    first = markdown(results()).splitlines()[0]
    for fact in ("2026-11-26", "Linux-6.1-x86_64", "2 CPUs", "Python 3.11.7", "3.34", "`make bench`"):
        assert fact in first
