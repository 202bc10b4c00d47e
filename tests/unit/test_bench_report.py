"""The benchmark's targets and Markdown report, from results built by the sections' own typed results."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench.meters import Ceiling
from bench.report import evaluate, markdown
from bench.restore_bench import RestoreRun
from bench.restore_section import DesignRate, RestoreResults
from bench.runs import Run, median_run
from bench.tagging_section import ProxyCeiling, TaggingResults

CORES = {"seaweedfs": 0.6, "moto": 0.6, "proxy": 0.3, "client": 0.9, "machine": 1.9, "others": 0.1}
CALLS = {"objects": 100, "calls": 200, "requests": 200, "calls_per_object": 2.0}
PLANNING = {"planned_objects": 110, "list_calls": 1, "list_calls_per_planned_object": 0.0091}


def tagging() -> TaggingResults:
    return TaggingResults(
        objects=3000,
        latency_ms=50.0,
        serial=Run("serial loop", 540, 60.0, requests=1080, client_cpu_seconds=2.0, capped=True),
        backfill=Run("backfill", 3000, 12.0, requests=6001, client_cpu_seconds=11.0, concurrency=64),
        client_limit=Run("client limit", 3000, 10.0, requests=6001, client_cpu_seconds=9.5, concurrency=64),
        proxy=ProxyCeiling(1500.0, 1800.0, 0.9, 3, 2),
        command=Run("glacierable backfill", 3000, 14.0, client_cpu_seconds=12.0, peak_rss_mb=70.0),
        tagger=Run("tagger handler", 100, 11.0, requests=200, client_cpu_seconds=0.6),
        sweep=[
            Run("concurrency 1", 200, 22.0, concurrency=1, client_cpu_seconds=1.0),
            Run("concurrency 64", 2560, 10.0, concurrency=64, client_cpu_seconds=10.0),
        ],
        growth=[
            Run("g", 1000, 5.0, peak_rss_mb=66.0),
            Run("g", 10_000, 40.0, peak_rss_mb=67.0),
            Run("g", 50_000, 190.0, peak_rss_mb=68.0),
        ],
        cpu_cores_used={"backfill": CORES},
    )


def restores() -> RestoreResults:
    return RestoreResults(
        volumes=2000,
        latency_ms=50.0,
        concurrency=64,
        serial=RestoreRun(1000, 60.0, capped=True, requested=1000),
        fan_out=RestoreRun(2000, 8.0, requested=2000),
        fan_out_http_requests=2000,
        command=Run("glacierable restore", 2000, 10.0, requests=2003, peak_rss_mb=75.0),
        ceilings=[Ceiling(1200, 4.0, 16)],
        design=DesignRate(5, 18, 10),
        cpu_cores_used={"fan_out": CORES},
    )


RESULTS: dict[str, Any] = {
    "date": "2026-12-02T05:00:00+00:00",
    "machine": {
        "platform": "Linux-6.1-x86_64",
        "python": "3.11.7",
        "processor": "x86_64",
        "cpu_count": 2,
        "load_average_1m_at_start": 0.34,
        "load_average_1m_at_end": 1.61,
    },
    "command": "make bench",
    "tagging": tagging().to_json(),
    "restore": restores().to_json(),
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
        "runs": [
            {
                "objects": 1000,
                "planned_objects": 109,
                "seconds": 0.05,
                "rss_peak_mb": 60.0,
                "rss_growth_mb": 0.4,
            },
            {
                "objects": 100_000,
                "planned_objects": 109,
                "seconds": 3.6,
                "rss_peak_mb": 105.2,
                "rss_growth_mb": 34.5,
            },
        ],
        "largest": {
            "objects": 100_000,
            "planned_objects": 109,
            "seconds": 3.6,
            "rss_peak_mb": 105.2,
            "rss_growth_mb": 34.5,
        },
    },
    "total_seconds": 600.0,
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


def test_the_sections_compute_speedups_and_shares_from_their_runs() -> None:
    t, r = RESULTS["tagging"], RESULTS["restore"]
    assert t["speedup"] == pytest.approx((3000 / 12) / (540 / 60), abs=0.01)
    assert t["share_of_client_limit"] == pytest.approx((3000 / 12) / (3000 / 10), abs=0.001)
    assert t["growth_marginal_kb_per_object"] == [
        pytest.approx(1024 / 9000, abs=0.01),
        pytest.approx(0.03, abs=0.01),
    ]
    assert r["command_speedup"] == pytest.approx((2000 / 10) / (1000 / 60), abs=0.01)
    assert r["command"]["http_requests_per_object"] == pytest.approx(1.0015, abs=0.001)
    assert r["design"]["requests_per_second"] == 900


def test_every_target_is_met_by_the_sample() -> None:
    assert all(t["met"] for t in evaluate(RESULTS).values()), evaluate(RESULTS)


@pytest.mark.parametrize(
    ("path", "value", "target"),
    [
        ("tagging__speedup", 24.9, "backfill_speedup"),
        ("tagging__share_of_client_limit", 0.79, "backfill_share_of_client_limit"),
        ("tagging__growth_largest_kb_per_object", 1.0, "backfill_memory_per_object_kb"),
        ("restore__speedup", 9.9, "restore_speedup"),
        ("restore__command_speedup", 9.9, "restore_command_speedup"),
        ("restore__design__share_of_limit", 1.01, "restore_design_under_limit"),
        ("restore__design__share_of_limit", 0.79, "restore_design_near_limit"),
        ("cold_import__ratio_cpu", 1.26, "tagger_cold_import_ratio"),
        ("plan_memory__largest__rss_growth_mb", 150.0, "plan_memory_mb"),
    ],
)
def test_a_value_past_its_bound_misses_its_target(path: str, value: float, target: str) -> None:
    assert results(**{path: value})["targets"][target]["met"] is False


def test_a_missing_measure_has_no_verdict() -> None:
    partial = copy.deepcopy(RESULTS)
    del partial["plan_memory"]
    assert evaluate(partial)["plan_memory_mb"] == {"value": None, "target": "< 150 MB", "met": None}


def test_report_says_when_a_serial_loop_stopped_at_its_budget() -> None:
    line = row(markdown(results()), "Serial loop")
    assert "540 objects in 60 s, stopped by its time budget; the rate per object holds" in line


def test_report_marks_a_missed_target_and_the_overall_verdict() -> None:
    report = markdown(results(restore__command_speedup=9.8))
    assert (
        row(report, "Speed-up over the serial loop")
        == "| Speed-up over the serial loop | 27.8x | >= 25x | yes |"
    )
    speedups = [line for line in report.splitlines() if line.startswith("| Speed-up |")]
    assert speedups == ["| Speed-up | 15.0x | >= 10x | yes |", "| Speed-up | 9.8x | >= 10x | **no** |"]
    assert row(report, "**All targets met**") == "| **All targets met** | **no** |  |  |"


def test_report_shows_the_client_limit_the_proxy_ceiling_and_the_design_rate() -> None:
    report = markdown(results())
    assert "300.0 (3.2 client CPU-ms per object)" in row(report, "The client's own limit")
    proxy = row(report, "The proxy's own ceiling")
    assert "1500 (the server alone: 1800); the backfill used 500" in proxy
    # 0.9 cores at 1,500/s is 0.60 ms per request: 2 processes could carry 2,000 / 0.6 = 3,333/s.
    assert "the proxy spends 0.60 CPU-ms per request, so its 2 processes would carry ~3,333/s" in proxy
    assert "(it used 0.30 cores during the backfill)" in proxy
    assert "5 workers x 18 threads x ~10/s = 900 requests/s = 90% of S3's 1000/s" in row(
        report, "Deployed fan-out's design rate"
    )


def test_report_has_the_sweep_and_growth_tables() -> None:
    report = markdown(results())
    assert "| 64 | 2,560 | 256.0 | 28.4 | 3.91 |" in report
    assert "| backfill | 50,000 | 190.0 | 263 | 68 | 0.03 |" in report
    assert "| planning | 100,000 | 3.60 | 27,778 | 105 | 0.35 |" in report


def test_report_shows_api_calls_per_object_for_tagger_and_planning() -> None:
    report = markdown(results())
    assert "2.00 (GetObjectTagging 100, PutObjectTagging 100)" in row(
        report, "Tagger handler, first delivery"
    )
    assert "HeadObject 0.00 per planned object" in row(report, "Planning on AWS")


def test_report_names_the_machine_and_the_command() -> None:
    first = markdown(results()).splitlines()[0]
    for fact in ("2026-12-02", "Linux-6.1-x86_64", "2 CPUs", "Python 3.11.7", "0.34", "`make bench`"):
        assert fact in first


def test_repeated_runs_show_their_median_and_range() -> None:
    runs = [
        Run("backfill", 3000, seconds, requests=6001, client_cpu_seconds=11.0, concurrency=64)
        for seconds in (20.0, 12.0, 10.0)
    ]
    median = median_run(runs)
    assert median is runs[1]  # 250/s, between 150/s and 300/s, whatever the order they ran in
    results_ = tagging()
    results_.backfill, results_.backfill_runs = median, runs
    report = markdown(results(tagging=results_.to_json()))
    assert "250.0 (median of 3 interleaved runs, 150.0-300.0; 3.7 client CPU-ms per object)" in row(
        report, "Backfill, concurrency 64"
    )
    # A single run is shown as it is.
    assert "300.0 (3.2 client CPU-ms per object)" in row(report, "The client's own limit")


def test_the_median_of_no_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="no runs"):
        median_run([])
