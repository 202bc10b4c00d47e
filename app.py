"""CDK entry point: `cdk synth -c bucket=NAME` (or `python app.py`); one stack per bucket."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.settings import CONTEXT_KEYS, SettingsError, load_settings
from infra.stack import GlacierableStack


def main() -> int:
    """Synthesize the app; a bad setting prints its problems and exits non-zero without a traceback."""
    app = cdk.App()
    context = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    try:
        settings = load_settings(context)
    except SettingsError as exc:
        print("glacierable: invalid CDK context setting(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    stack = GlacierableStack(app, settings.stack_name, settings=settings)
    cdk.Tags.of(stack).add("glacierable:bucket", settings.bucket)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
