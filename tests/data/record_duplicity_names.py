"""Record tests/data/duplicity_names.json: names real duplicity wrote, with what duplicity parses from them.

Run from the repository root: `.venv/bin/python tests/data/record_duplicity_names.py` (needs the par2 binary).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from glacierable_dev.duplicity_runner import PAR2, PAR2_MISSING_REASON
from tests.duplicity_scenarios import SCENARIOS, duplicity_fields, run_scenario

OUTPUT = Path(__file__).with_name("duplicity_names.json")


def record() -> dict[str, object]:
    from importlib.metadata import version

    entries: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="glacierable-record-") as tmp:
        for scenario in SCENARIOS:
            for name in run_scenario(scenario, Path(tmp) / scenario.name):
                fields = duplicity_fields(name, scenario)
                if fields is None:
                    raise SystemExit(f"duplicity does not parse its own file name {name!r} ({scenario.name})")
                entries.append({"scenario": scenario.name, "name": name, **fields})
    return {
        "duplicity": version("duplicity"),
        "recorded_by": "tests/data/record_duplicity_names.py",
        "scenarios": {scenario.name: scenario.options for scenario in SCENARIOS},
        "names": entries,
    }


def main() -> None:
    if PAR2 is None:
        raise SystemExit(f"cannot record the par2 names: {PAR2_MISSING_REASON}")
    table = record()
    OUTPUT.write_text(_dumps(table), encoding="utf-8")
    print(f"recorded {len(table['names'])} names into {OUTPUT}")  # type: ignore[arg-type]


def _dumps(table: dict[str, object]) -> str:
    # One name a line, so a re-recording shows up as a readable diff.
    header = {key: value for key, value in table.items() if key != "names"}
    lines = [f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value in header.items()]
    names = table["names"]
    assert isinstance(names, list)
    entries = ",\n".join(f"  {json.dumps(entry, ensure_ascii=False)}" for entry in names)
    return "{\n" + "\n".join(lines) + '\n "names": [\n' + entries + "\n ]\n}\n"


if __name__ == "__main__":
    main()
