"""`glacierable status`: the restore state of every object a restore needs, and what to do next."""

from __future__ import annotations

import argparse
import time

from glacierable import restore_flow
from glacierable.object_status import State, StatusReport
from glacierable.pricing import Tier
from glacierable_cli import selection
from glacierable_cli.errors import ExitCode
from glacierable_cli.output import print_json
from glacierable_cli.render import Renderer, hours_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `status`."""
    parser = subparsers.add_parser(
        "status",
        parents=[selection.selection_parser()],
        help="show the restore state of every object a restore needs",
        description=(
            "Counts per state (archived, restoring, restored, readable) of the needed objects, and what to "
            f"do next. Exit {ExitCode.OK} when duplicity can read everything, "
            f"{ExitCode.NOT_READY} while it cannot yet."
        ),
    )
    selection.add_tier(parser, "the tier the restores were requested with, for the ETA (default: Standard)")
    parser.add_argument("--json", action="store_true", help="print counts and every object's state as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    now = int(time.time())
    request = selection.restore_request(args, now)
    tier = request.tier
    client = selection.s3(args)
    restore_time = request.restore_time(now=now)
    plan = selection.load(client, args.bucket, request, restore_time, args.concurrency)
    status = StatusReport.of(plan)
    code = ExitCode.OK if status.all_readable else ExitCode.NOT_READY
    duplicity = selection.duplicity_command_for(args, request, restore_time, par2=plan.par2)
    if args.json:
        document = {
            **selection.point_json(args, request, restore_time),
            **status.to_json(per_object=True),
            "duplicity_command": duplicity,
        }
        print_json("status", document)
        return code
    render = Renderer()
    render.rows(status_rows(status, restore_flow.hours_range(plan, tier), tier))
    counts = status.counts()
    if status.all_readable:
        render.line("every needed object is readable: duplicity can restore now:")
        render.command(duplicity)
    elif counts[State.ARCHIVED.value]:
        render.line(
            f"{counts[State.ARCHIVED.value]} needed object(s) are archived with no restore: request them:"
        )
        render.command(selection.glacierable_command("restore", args, request, restore_time))
    else:
        render.line("check again later:")
        render.command(selection.glacierable_command("status", args, request, restore_time))
    return code


def status_rows(status: StatusReport, hours: tuple[float, float] | None, tier: Tier) -> list[tuple[str, str]]:
    """Counts per state, the first expiry and, while objects are restoring, the tier's time range."""
    counts = status.counts()
    rows = [(state.value, str(counts[state.value])) for state in State]
    rows.append(("total", str(len(status.objects))))
    expiry = status.earliest_expiry
    if expiry is not None:
        rows.append(("first expiry", expiry.isoformat()))
    if counts[State.RESTORING.value] and hours is not None:
        rows.append(("ETA", f"{tier.value} restores take {hours_text(*hours)} from their request"))
    return rows
