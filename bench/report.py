"""The benchmark's targets and its Markdown report, from the results `make bench` writes (pure: no I/O)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

COMMAND = "make bench"

Row = tuple[str, str, str, str]


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
    Target("backfill_speedup", ("tagging", "speedup"), 25.0, operator.ge, ">= 25x"),
    Target(
        "backfill_share_of_client_limit", ("tagging", "share_of_client_limit"), 0.80, operator.ge, ">= 80%"
    ),
    Target(
        "backfill_memory_per_object_kb",
        ("tagging", "growth_largest_kb_per_object"),
        1.0,
        operator.lt,
        "< 1 KB",
    ),
    Target("restore_speedup", ("restore", "speedup"), 10.0, operator.ge, ">= 10x"),
    Target("restore_command_speedup", ("restore", "command_speedup"), 10.0, operator.ge, ">= 10x"),
    Target(
        "restore_design_under_limit", ("restore", "design", "share_of_limit"), 1.0, operator.le, "<= 100%"
    ),
    Target("restore_design_near_limit", ("restore", "design", "share_of_limit"), 0.8, operator.ge, ">= 80%"),
    Target("tagger_cold_import_ratio", ("cold_import", "ratio_cpu"), 1.25, operator.le, "<= 1.25x"),
    Target("plan_memory_mb", ("plan_memory", "largest", "rss_growth_mb"), 150.0, operator.lt, "< 150 MB"),
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


def _target(results: dict[str, Any], name: str) -> tuple[str, str]:
    return next(t.shown for t in TARGETS if t.name == name), _met(results, name)


def _capped(run: dict[str, Any], unit: str) -> str:
    done = f"{run['objects']} {unit} in {run['seconds']:.0f} s"
    return f"{done}, stopped by its time budget; the rate per object holds" if run.get("capped") else done


def _spread(runs: list[dict[str, Any]]) -> str:
    """ "median of 3 interleaved runs, 180.2-230.4; " for repeated runs, nothing for one."""
    if len(runs) < 2:
        return ""
    rates = sorted(run["objects_per_second"] for run in runs)
    return f"median of {len(runs)} interleaved runs, {rates[0]:.1f}-{rates[-1]:.1f}; "


def _tagging_rows(r: dict[str, Any]) -> list[Row]:
    t = r["tagging"]
    s, b, limit, p, c, h = (
        t["serial"],
        t["backfill"],
        t["client_limit"],
        t["proxy_ceiling"],
        t["command"],
        t["tagger_handler"],
    )
    latency = f"+{t['latency_ms']:.0f} ms"
    proxy_used = b["requests"] / b["seconds"] if b["seconds"] else 0.0
    # The ceiling run saturates the machine's cores (client processes, proxies and the server share them),
    # so its rate is a floor for the proxy; its CPU per request says what the proxy alone could carry.
    proxy_ms = 1000 * p["proxy_cores"] / p["requests_per_second"] if p["requests_per_second"] else 0.0
    proxy_capacity = 1000 * p["proxies"] / proxy_ms if proxy_ms else 0.0
    backfill_proxy_cores = t["cpu_cores_used"].get("backfill", {}).get("proxy", 0.0)
    return [
        (f"**Tagging on {t['server']}** ({t['objects']:,} objects per run)", "", "", ""),
        (
            f"Serial loop (the original script), {latency}, objects/s",
            f"{s['objects_per_second']:.1f} ({_capped(s, 'objects')})",
            "",
            "",
        ),
        (
            f"Backfill, concurrency {b['concurrency']}, {latency}, objects/s",
            f"{b['objects_per_second']:.1f} ({_spread(t.get('backfill_runs', []))}"
            f"{b['cpu_ms_per_object']:.1f} client CPU-ms per object)",
            "",
            "",
        ),
        ("Speed-up over the serial loop", f"{t['speedup']:.1f}x", *_target(r, "backfill_speedup")),
        (
            "The client's own limit: the same backfill, no proxy, no latency, objects/s",
            f"{limit['objects_per_second']:.1f} ({_spread(t.get('client_limit_runs', []))}"
            f"{limit['cpu_ms_per_object']:.1f} client CPU-ms per object)",
            "",
            "",
        ),
        (
            f"Backfill at {latency} as a share of the client's limit",
            f"{t['share_of_client_limit']:.0%}",
            *_target(r, "backfill_share_of_client_limit"),
        ),
        (
            f"The proxy's own ceiling ({p['proxies']} proxy processes, 0 ms, {p['processes']} client "
            "processes), requests/s",
            f"{p['requests_per_second']:.0f} (the server alone: {p['direct_requests_per_second']:.0f}); "
            f"the backfill used {proxy_used:.0f}; the proxy spends {proxy_ms:.2f} CPU-ms per request, "
            f"so its {p['proxies']} processes would carry ~{proxy_capacity:,.0f}/s on cores of their own "
            f"(it used {backfill_proxy_cores:.2f} cores during the backfill)",
            "",
            "",
        ),
        (
            f"`glacierable backfill` (whole process), {latency}, objects/s",
            f"{c['objects_per_second']:.1f} ({c['objects']:,} in {c['seconds']:.1f} s; "
            f"{t['command_speedup']:.1f}x the serial loop; peak RSS {c['peak_rss_mb']:.0f} MB)",
            "",
            "",
        ),
        (
            f"Tagger handler, one event per invocation, {latency}",
            f"{1000 * h['seconds'] / h['objects']:.0f} ms per event ({h['requests'] / h['objects']:.2f} "
            "requests each)",
            "",
            "",
        ),
        (
            "Backfill memory per object, largest growth step",
            f"{t['growth_largest_kb_per_object']:.2f} KB",
            *_target(r, "backfill_memory_per_object_kb"),
        ),
    ]


def _restore_rows(r: dict[str, Any]) -> list[Row]:
    x = r["restore"]
    s, f, c, d = x["serial"], x["fan_out"], x["command"], x["design"]
    latency = f"+{x['latency_ms']:.0f} ms"
    return [
        (f"**Restore requests on moto** ({x['volumes']:,} archived volumes per run)", "", "", ""),
        (
            f"Serial RestoreObject loop, {latency}, requests/s",
            f"{s['requests_per_second']:.1f} ({_capped(s, 'volumes')})",
            "",
            "",
        ),
        (
            f"Fan-out (`request_restores`, concurrency {x['concurrency']}), requests/s",
            f"{f['requests_per_second']:.1f} ({f['requested']} requested, {f['failed']} failed)",
            "",
            "",
        ),
        ("Speed-up", f"{x['speedup']:.1f}x", *_target(r, "restore_speedup")),
        (
            f"`glacierable restore` (whole process: planning, then requests), {latency}, volumes/s",
            f"{c['objects_per_second']:.1f} ({c['objects']:,} in {c['seconds']:.1f} s; "
            f"{c['http_requests_per_object']:.2f} HTTP requests per volume)",
            "",
            "",
        ),
        ("Speed-up", f"{x['command_speedup']:.1f}x", *_target(r, "restore_command_speedup")),
        (
            f"Emulator ceiling, GetObjectTagging/s ({x['ceiling']['threads']} threads, no proxy)",
            f"{x['ceiling']['requests_per_second']:.0f} (the fan-out reached {x['ceiling_fraction']:.0%})",
            "",
            "",
        ),
        (
            "Deployed fan-out's design rate on AWS",
            f"{d['workers']} workers x {d['threads']} threads x ~{d['per_thread']}/s = "
            f"{d['requests_per_second']} requests/s = {d['share_of_limit']:.0%} of S3's {d['s3_limit']}/s",
            *_target(r, "restore_design_under_limit"),
        ),
        ("", "", *_target(r, "restore_design_near_limit")),
    ]


def _operations(calls: dict[str, Any]) -> str:
    return ", ".join(f"{name} {count}" for name, count in calls["by_operation"].items())


def _api_rows(r: dict[str, Any]) -> list[Row]:
    tagger, planning = r["api_calls"]["tagger"], r["api_calls"]["planning"]
    rows: list[Row] = [("**API calls per object**", "", "", "")]
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
        ("aws", "Planning on AWS (listing has RestoreStatus)"),
        ("emulator", "Planning on the emulator (listing without RestoreStatus)"),
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


def _import_rows(r: dict[str, Any]) -> list[Row]:
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
            *_target(r, "tagger_cold_import_ratio"),
        ),
    ]


def _memory_rows(r: dict[str, Any]) -> list[Row]:
    m = r["plan_memory"]["largest"]
    return [
        ("**Memory**", "", "", ""),
        (
            f"Planning {m['objects']:,} listed objects: peak RSS growth",
            f"{m['rss_growth_mb']:.1f} MB (process peak {m['rss_peak_mb']:.0f} MB; {m['seconds']:.1f} s; "
            f"{m['planned_objects']} objects planned)",
            *_target(r, "plan_memory_mb"),
        ),
    ]


def _sweep_table(r: dict[str, Any]) -> list[str]:
    t = r["tagging"]
    serial = t["serial"]["objects_per_second"]
    return [
        "",
        f"Backfill concurrency sweep on SeaweedFS, +{t['latency_ms']:.0f} ms per request:",
        "",
        "| Concurrency | Objects | Objects/s | x serial | Client CPU-ms per object |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {run['concurrency']} | {run['objects']:,} | {run['objects_per_second']:.1f} "
            f"| {run['objects_per_second'] / serial:.1f} | {run['cpu_ms_per_object']:.2f} |"
            for run in t["sweep"]
        ),
    ]


def _growth_table(r: dict[str, Any]) -> list[str]:
    t, plans = r["tagging"], r["plan_memory"]["runs"]
    marginal = [None, *t["growth_marginal_kb_per_object"]]
    lines = [
        "",
        "Growth: `glacierable backfill` on SeaweedFS without added latency (whole process), and planning "
        "(in a fresh process, listing served in memory):",
        "",
        "| Run | Objects | Seconds | Objects/s | Peak RSS MB | Added KB per object |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run, kb in zip(t["growth"], marginal, strict=True):
        added = "" if kb is None else f"{kb:.2f}"
        lines.append(
            f"| backfill | {run['objects']:,} | {run['seconds']:.1f} | {run['objects_per_second']:.0f} "
            f"| {run['peak_rss_mb']:.0f} | {added} |"
        )
    for plan in plans:
        per_object = 1024 * plan["rss_growth_mb"] / plan["objects"]
        lines.append(
            f"| planning | {plan['objects']:,} | {plan['seconds']:.2f} "
            f"| {plan['objects'] / max(plan['seconds'], 0.01):,.0f} | {plan['rss_peak_mb']:.0f} "
            f"| {per_object:.2f} |"
        )
    return lines


def _cpu_table(title: str, phases: dict[str, dict[str, float]], server: str) -> list[str]:
    return [
        "",
        f"CPU cores used per phase, {title}:",
        "",
        f"| Phase | {server} | proxy | client | others | machine |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {phase} | {u.get(server, 0.0):.2f} | {u.get('proxy', 0.0):.2f} | {u['client']:.2f} "
            f"| {u['others']:.2f} | {u['machine']:.2f} |"
            for phase, u in phases.items()
        ),
    ]


def _extra_imports(r: dict[str, Any]) -> list[str]:
    extra = r["cold_import"].get("extra_imports")
    if not extra:
        return []
    parts = ", ".join(f"{e['package']} {e['ms']:.1f} ms" for e in extra)
    return ["", f"What the tagger imports beyond boto3 (self time, least of 3 runs): {parts}."]


def markdown(results: dict[str, Any]) -> str:
    """The report: machine and command, the measures against their targets, sweeps, growth, CPU per phase."""
    r, m = results, results["machine"]
    rows = [
        *_tagging_rows(r),
        *_restore_rows(r),
        *_api_rows(r),
        *_import_rows(r),
        *_memory_rows(r),
        ("**All targets met**", "yes" if r.get("targets_met") else "**no**", "", ""),
    ]
    lines = [
        f"Measured {r['date']} on {m['platform']}, {m['cpu_count']} CPUs ({m['processor']}), "
        f"Python {m['python']}; load average {m['load_average_1m_at_start']} at start, "
        f"{m.get('load_average_1m_at_end', '?')} at end. Servers on 127.0.0.1, each in its own process: "
        f"SeaweedFS for tagging, moto for restores; a proxy process adds {r['tagging']['latency_ms']:.0f} ms "
        f"to every request where a row says so. Reproduce with `{r.get('command', COMMAND)}` "
        f"({r.get('total_seconds', 0):.0f} s).",
        "",
        "| Measure | Value | Target | Met |",
        "|---|---|---|---|",
        *(f"| {name} | {value} | {target} | {met} |" for name, value, target, met in rows),
        *_sweep_table(r),
        *_growth_table(r),
        *_extra_imports(r),
        *_cpu_table("tagging on SeaweedFS", r["tagging"]["cpu_cores_used"], "seaweedfs"),
        *_cpu_table("restores on moto", r["restore"]["cpu_cores_used"], "moto"),
    ]
    return "\n".join(lines) + "\n"
