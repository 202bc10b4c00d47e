"""Synthesize each stack configuration once per session (importing aws_cdk costs seconds and ~550 MB)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii starts node on import: keep its end-of-life banner out of every test's output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.settings import CONTEXT_KEYS, Settings, load_settings
from infra.stack import GlacierableStack

ROOT = Path(__file__).resolve().parents[2]

CONFIGURATIONS: dict[str, dict[str, Any]] = {
    # Strings, as `-c key=value` delivers them.
    "existing": {"bucket": "existing-backups", "prefix": "backups/"},
    "existing_root": {"bucket": "root.backups", "storage_class": "GLACIER_IR", "days": "30"},
    "new": {
        "bucket": "new-backups",
        "prefix": "host1/",
        "create_bucket": "true",
        "storage_class": "DEEP_ARCHIVE",
        "days": "3",
        "archive_unknown": "true",
        "reconcile_days": "5",
        "reconcile_schedule": "cron(15 3 * * ? *)",
    },
    # JSON values, as cdk.json delivers them.
    "new_root": {"bucket": "new-root-backups", "create_bucket": True, "days": 2},
}


def cdk_json_context() -> dict[str, Any]:
    """The context the CLI would pass from cdk.json: our defaults and the feature flags."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesized:
    """One configuration's settings and synthesized template."""

    settings: Settings
    stack_name: str
    environment: str
    template: dict[str, Any]

    @property
    def assertions(self) -> Template:
        """The template wrapped for aws_cdk.assertions."""
        return Template.from_json(self.template)


def build_app(outdir: Path, configurations: dict[str, dict[str, Any]]) -> tuple[cdk.App, dict[str, Settings]]:
    """An app holding one GlacierableStack per configuration, with cdk.json's context under each."""
    app = cdk.App(outdir=str(outdir), context=cdk_json_context())
    settings: dict[str, Settings] = {}
    for name, overrides in configurations.items():
        raw = {**cdk_json_context(), **overrides}
        settings[name] = load_settings({key: raw.get(key) for key in CONTEXT_KEYS})
        GlacierableStack(app, settings[name].stack_name, settings=settings[name])
    return app, settings


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the `synthesized` fixture writes its cloud assembly."""
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def synthesized(assembly_dir: Path) -> dict[str, Synthesized]:
    """Every configuration in CONFIGURATIONS, synthesized together in one app, once."""
    app, settings = build_app(assembly_dir, CONFIGURATIONS)
    assembly = app.synth()
    stacks = {name: assembly.get_stack_by_name(s.stack_name) for name, s in settings.items()}
    return {
        name: Synthesized(
            settings=s,
            stack_name=s.stack_name,
            environment=stacks[name].environment.name,
            template=stacks[name].template,
        )
        for name, s in settings.items()
    }


@pytest.fixture(scope="session")
def existing(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["existing"]


@pytest.fixture(scope="session")
def new(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["new"]
