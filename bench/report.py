"""The benchmark's targets and its Markdown report, from the results dict alone (pure: no I/O)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

COMMAND = "make bench"


@dataclass(frozen=True)
class Target:
    """One goal from the issues: a measured value compared with a bound."""

    name: str
    path: tuple[str, ...]
    bound: float
    compare: Callable[[float, float], bool]
    shown: str

    def value(self, results: dict[str, Any]) -> float | None:
        node: Any = results
        for step in self.path:
            if not isinstance(node, dict) or step not in node:
                return None
            node = node[step]
        return float(node)


TARGETS = (
    Target("backfill_speedup", ("speedup",), 15.0, operator.ge, ">= 15x"),
    Target("backfill_ceiling_fraction", ("ceiling_fraction",), 0.80, operator.ge, ">= 80%"),
    Target("restore_speedup", ("restore", "speedup"), 10.0, operator.ge, ">= 10x"),
    Target("tagger_cold_import_ratio", ("cold_import", "ratio_cpu"), 1.25, operator.le, "<= 1.25x"),
    Target("plan_memory_mb", ("plan_memory", "rss_growth_mb"), 150.0, operator.lt, "< 150 MB"),
)


def evaluate(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target's value, bound and verdict (None when the value was not measured)."""
    verdicts: dict[str, dict[str, Any]] = {}
    for target in TARGETS:
        value = target.value(results)
        met = None if value is None else target.compare(value, target.bound)
        verdicts[target.name] = {"value": value, "target": target.shown, "met": met}
    return verdicts


def _met(results: dict[str, Any], name: str) -> str:
    met = results.get("targets", {}).get(name, {}).get("met")
    return "" if met is None else "yes" if met else "**no**"


def _target(name: str) -> str:
    return next(t.shown for t in TARGETS if t.name == name)


def _loop_note(run: dict[str, Any], total: int, unit: str) -> str:
    done = f"{run['objects']} of {total} {unit} in {run['seconds']:.0f} s"
    return f"{done}; capped by its time budget, the rate per {unit[:-1]} holds" if run.get("capped") else done


def _operations(calls: dict[str, Any]) -> str:
    return ", ".join(f"{name} {count}" for name, count in calls["by_operation"].items())


def _backfill_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    s, b, c = r["serial"], r["backfill"], r["ceiling"]
    return [
        (f"**Backfill** ({r['objects']} objects)", "", "", ""),
        (
            "Serial loop (the original script), objects/s",
            f"{s['objects_per_second']:.1f} ({_loop_note(s, r['objects'], 'objects')})",
            "",
            "",
        ),
        (f"Backfill, concurrency {b['concurrency']}, objects/s", f"{b['objects_per_second']:.1f}", "", ""),
        ("Speed-up", f"{r['speedup']:.1f}x", _target("backfill_speedup"), _met(r, "backfill_speedup")),
        (
            "Backfill requests/s against the emulator's ceiling",
            f"{b['requests_per_second']:.0f} / {c['requests_per_second']:.0f} = {r['ceiling_fraction']:.0%} "
            f"({r['ceiling_fraction_per_moto_cpu']:.0%} per CPU-second moto got)",
            _target("backfill_ceiling_fraction"),
            _met(r, "backfill_ceiling_fraction"),
        ),
    ]


def _restore_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    if "restore" not in r:
        return []
    x = r["restore"]
    s, f = x["serial"], x["fan_out"]
    return [
        (f"**Restore requests** ({x['volumes']} archived volumes)", "", "", ""),
        (
            "Serial RestoreObject loop, requests/s",
            f"{s['requests_per_second']:.1f} ({_loop_note(s, x['volumes'], 'volumes')})",
            "",
            "",
        ),
        (
            f"Fan-out (`request_restores`, concurrency {x['concurrency']}), requests/s",
            f"{f['requests_per_second']:.1f} ({f['objects']} volumes: {f['requested']} requested, "
            f"{f['failed']} failed)",
            "",
            "",
        ),
        ("Speed-up", f"{x['speedup']:.1f}x", _target("restore_speedup"), _met(r, "restore_speedup")),
        (
            "Fan-out requests/s against the emulator's ceiling",
            f"{f['http_requests_per_second']:.0f} / {r['ceiling']['requests_per_second']:.0f} "
            f"= {x['ceiling_fraction']:.0%}",
            "",
            "",
        ),
    ]


def _api_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    if "api_calls" not in r:
        return []
    tagger, planning = r["api_calls"]["tagger"], r["api_calls"]["planning"]
    rows = [("**API calls per object**", "", "", "")]
    for delivery, label in (("first_delivery", "first delivery"), ("redelivery", "redelivery")):
        calls = tagger[delivery]
        rows.append(
            (
                f"Tagger handler, {label} ({calls['objects']} events)",
                f"{calls['calls_per_object']:.2f} ({_operations(calls)})",
                "",
                "",
            )
        )
    listed = planning["folder_objects"]
    for mode, label in (
        ("aws", "Planning on AWS (listing has RestoreStatus: no HEAD)"),
        ("emulator", "Planning on the emulator (no RestoreStatus: HEAD per archived needed object)"),
    ):
        p = planning[mode]
        rows.append(
            (
                label,
                f"ListObjectsV2 {p['list_calls_per_planned_object']:.3f} + HeadObject "
                f"{p['heads_per_planned_object']:.2f} per planned object ({p['list_calls']} + "
                f"{p['head_calls']} calls; {p['planned_objects']} planned of {listed} listed)",
                "",
                "",
            )
        )
    return rows


def _import_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    if "cold_import" not in r:
        return []
    c = r["cold_import"]
    return [
        (f"**Cold import** (median of {c['runs']} fresh interpreters, interleaved)", "", "", ""),
        (
            "`import glacierable.handlers.tagger`, then its S3 client, CPU ms",
            f"{c['tagger_cpu_ms']:.0f} (wall {c['tagger_wall_ms']:.0f})",
            "",
            "",
        ),
        (
            "`import boto3; boto3.client('s3')`, CPU ms",
            f"{c['baseline_cpu_ms']:.0f} (wall {c['baseline_wall_ms']:.0f})",
            "",
            "",
        ),
        (
            "Tagger / bare boto3 client",
            f"{c['ratio_cpu']:.2f}x CPU ({c['ratio_wall']:.2f}x wall)",
            _target("tagger_cold_import_ratio"),
            _met(r, "tagger_cold_import_ratio"),
        ),
    ]


def _memory_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    if "plan_memory" not in r:
        return []
    m = r["plan_memory"]
    return [
        ("**Memory**", "", "", ""),
        (
            f"Planning {m['objects']:,} listed objects: peak RSS growth",
            f"{m['rss_growth_mb']:.1f} MB (process peak {m['rss_peak_mb']:.0f} MB; {m['seconds']:.1f} s; "
            f"{m['planned_objects']} objects planned)",
            _target("plan_memory_mb"),
            _met(r, "plan_memory_mb"),
        ),
    ]


def _extra_imports(r: dict[str, Any]) -> list[str]:
    extra = r.get("cold_import", {}).get("extra_imports")
    if not extra:
        return []
    parts = ", ".join(f"{e['package']} {e['ms']:.1f} ms" for e in extra)
    return ["", f"What the tagger imports beyond boto3 (self time, least of 3 runs): {parts}."]


def _cpu_table(r: dict[str, Any]) -> list[str]:
    return [
        "",
        f"CPU cores used per phase ({r['machine']['cpu_count']} on this machine):",
        "",
        "| Phase | moto | proxy | client | others | machine |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {phase} | {u['moto']:.2f} | {u['proxy']:.2f} | {u['client']:.2f} | {u['others']:.2f} "
            f"| {u['machine']:.2f} |"
            for phase, u in r["cpu_cores_used"].items()
        ),
    ]


def _diagnosis(r: dict[str, Any]) -> list[str]:
    d = r.get("diagnosis")
    if not d:
        return []
    return [
        "",
        f"Moto spent {d['moto_cpu_ms_per_request']:.1f} ms of CPU per request and got "
        f"{d['moto_cores_during_backfill']:.2f} of a core during the backfill "
        f"(other processes on the machine: {r['cpu_cores_used']['backfill']['others']:.2f} cores). "
        f"With a core to itself, the same backfill would reach about "
        f"{d['projected_objects_per_second_with_one_core_for_moto']:.0f} objects/s "
        f"({d['projected_speedup_with_one_core_for_moto']:.1f}x the serial loop): "
        "a projection, not a measurement.",
        *_restore_diagnosis(r),
    ]


def _restore_diagnosis(r: dict[str, Any]) -> list[str]:
    d = r["diagnosis"]
    if "restore_moto_cpu_ms_per_request" not in d:
        return []
    return [
        "",
        f"The restore fan-out ran at {r['restore']['ceiling_fraction']:.0%} of the emulator's ceiling: moto, "
        f"not the fan-out, set its pace. Moto spent {d['restore_moto_cpu_ms_per_request']:.1f} ms of CPU per "
        f"RestoreObject and got {d['restore_moto_cores']:.2f} of a core; with a core to itself, about "
        f"{d['restore_projected_requests_per_second_with_one_core_for_moto']:.0f} requests/s "
        f"({d['restore_projected_speedup_with_one_core_for_moto']:.1f}x the serial loop): a projection, "
        "not a measurement.",
    ]


def markdown(results: dict[str, Any]) -> str:
    """The report: machine, the measures against their targets, CPU per phase, and a diagnosis."""
    r, m = results, results["machine"]
    rows = [
        *_backfill_rows(r),
        *_restore_rows(r),
        (
            f"Emulator ceiling, GetObjectTagging/s ({r['ceiling']['threads']} threads, no proxy)",
            f"{r['ceiling']['requests_per_second']:.0f}",
            "",
            "",
        ),
        *_api_rows(r),
        *_import_rows(r),
        *_memory_rows(r),
        ("**All targets met**", "yes" if r.get("targets_met") else "**no**", "", ""),
    ]
    lines = [
        f"Measured {r['date']} on {m['platform']}, {m['cpu_count']} CPUs ({m['processor']}), "
        f"Python {m['python']}; load average {m['load_average_1m_at_start']} at start, "
        f"{m.get('load_average_1m_at_end', '?')} at end. Emulator: a moto server subprocess on 127.0.0.1, "
        f"{r['latency_ms']:.0f} ms added per request by a proxy (the ceiling is measured without it). "
        f"Reproduce with `{COMMAND}` ({r.get('total_seconds', 0):.0f} s).",
        "",
        "| Measure | Value | Target | Met |",
        "|---|---|---|---|",
        *(f"| {name} | {value} | {target} | {met} |" for name, value, target, met in rows),
        *_extra_imports(r),
        *_cpu_table(r),
        *_diagnosis(r),
    ]
    return "\n".join(lines) + "\n"
