"""`glacierable plan`: what a restore at a time needs, and its whole bill per tier (requests nothing)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from glacierable.names import format_time
from glacierable.plan import RestorePlan
from glacierable.prefixes import duplicity_url
from glacierable.pricing import RestoreCost, cost_assumptions
from glacierable.restore_request import RestoreRequest
from glacierable_cli import selection
from glacierable_cli.errors import ExitCode
from glacierable_cli.output import print_json
from glacierable_cli.render import Renderer, hours_text, size_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `plan`."""
    parser = subparsers.add_parser(
        "plan",
        parents=[selection.selection_parser()],
        help="show what a restore at a time needs and what it would cost",
        description="List the objects `duplicity restore -t TIME` reads and which must be restored first.",
    )
    selection.add_days(parser, "days the restored copies would be kept, for the estimate")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON Lines record (keys, chain, costs)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    now = int(time.time())
    request = selection.restore_request(args, now)
    client = selection.s3(args)
    restore_time = request.restore_time(now=now)
    plan = selection.load(client, args.bucket, request, restore_time, args.concurrency)
    costs = [plan.cost(tier, days=request.days) for tier in plan.usable_tiers()]
    restore_command = selection.glacierable_command("restore", args, request, restore_time)
    duplicity = selection.duplicity_command_for(args, request, restore_time, par2=plan.par2)
    if args.json:
        document = {
            **selection.point_json(args, request, restore_time),
            **plan.to_json(),
            "costs": [cost.to_json() for cost in costs] if plan.to_restore else [],
            "restore_command": restore_command,
            "duplicity_command": duplicity,
        }
        print_json("plan", document)
        return ExitCode.OK
    render = Renderer()
    render.rows(plan_rows(args.bucket, request, plan, costs))
    if plan.to_restore:
        render.line(f"({cost_assumptions()}; copies kept {request.days} days, --days)")
    for warning in plan.warnings:
        render.warning(warning)
    if plan.to_restore:
        render.command(restore_command, lead="next: ")
    else:
        render.line("nothing to restore: duplicity can read it all now:")
        render.command(duplicity)
    return ExitCode.OK


def plan_rows(
    bucket: str, request: RestoreRequest, plan: RestorePlan, costs: Sequence[RestoreCost]
) -> list[tuple[str, str]]:
    """The human plan: the chain, the counts and bytes, and the whole bill per tier."""
    chain = plan.chain
    to_restore = plan.to_restore
    incs = chain.incremental_times
    chain_text = f"full {format_time(chain.full_time)}" + (
        f" + {len(incs)} incremental(s) to {format_time(incs[-1])}" if incs else ""
    )
    rows: list[tuple[str, str]] = [
        ("backup", duplicity_url(bucket, request.folder, par2=plan.par2)),
        ("restore time", f"{format_time(chain.restore_time)} ({request.time})"),
        ("chain", chain_text),
    ]
    if chain.later_incremental_times:
        rows.append(("not used", f"{len(chain.later_incremental_times)} later incremental(s) of this chain"))
    rows += [
        ("data volumes", f"{chain.volume_count} ({size_text(chain.volume_bytes)})"),
        ("needed", f"{len(plan.needed)} objects ({size_text(sum(o.size for o in plan.needed))})"),
        ("readable", str(len(plan.readable))),
        ("in progress", str(len(plan.in_progress))),
        ("to restore", f"{len(to_restore)} objects ({size_text(sum(o.size for o in to_restore))})"),
    ]
    if to_restore:
        rows += [(cost.tier.value.lower(), cost_text(cost)) for cost in costs]
    return rows


def cost_text(cost: RestoreCost, *, days: bool = False) -> str:
    """ "~$93.86 (retrieval $10.24 + requests $0.25 + copies $5.50 + download $83.16), 3-5 h"."""
    kept = f" for {cost.days} d" if days else ""
    parts = (
        f"retrieval ${cost.retrieval_usd:,.2f} + requests ${cost.requests_usd:,.2f} + "
        f"copies ${cost.copies_usd:,.2f}{kept} + download ${cost.transfer_usd:,.2f}"
    )
    return f"~${cost.total_usd:,.2f} ({parts}), {hours_text(cost.hours_min, cost.hours_max)}"
