"""Lambda functions on the newest Python the public Powertools v3 layer supports; layer ARN from SSM.

Each function has a role of its own whose only logging grant is on its own log group (not
AWSLambdaBasicExecutionRole, whose logs actions are on every log group in the account).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_14
"""Newest runtime with a published Powertools v3 layer (AWSLambdaPowertoolsPythonV3-python314-arm64)."""

ARCHITECTURE = lambda_.Architecture.ARM_64

POWERTOOLS_VERSION = "3.37.0"
"""The Powertools release every function runs: requirements.txt's aws-lambda-powertools pin (a test holds the
two equal), so a deploy never changes the library under the code. Powertools publishes a parameter per
release (`.github/workflows/update_ssm.yml` in aws-powertools/powertools-lambda-python)."""

LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
"""All a function needs to write its logs into a log group that already exists (the stack creates it)."""

METRICS_NAMESPACE = "Glacierable"

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"

RUNTIME_PACKAGE = "glacierable"
"""The Lambda asset is this package and nothing else: boto3 comes from the runtime, Powertools from the
layer; the CLI (`glacierable_cli`) and the demo and test doubles (`glacierable_dev`) are packages of their
own beside it, so no pattern has to keep them out."""

PACKAGE_FILES = ("*.py", "py.typed")
"""What a package directory ships: its modules and its typing marker (no caches, no build leftovers)."""


def stage_runtime_package(destination: Path) -> Path:
    """Copy the runtime package's files, package by package, into `destination`; returns `destination`."""
    source = LAMBDA_SRC / RUNTIME_PACKAGE
    for package in sorted(p for p in [source, *source.rglob("*")] if (p / "__init__.py").is_file()):
        target = destination / package.relative_to(LAMBDA_SRC)
        target.mkdir(parents=True, exist_ok=True)
        for pattern in PACKAGE_FILES:
            for module in sorted(package.glob(pattern)):
                shutil.copy2(module, target / module.name)
    return destination


@functools.cache
def _staged_asset() -> Path:
    # One staging per process: every function shares the asset, and CDK copies it into the cloud assembly.
    staging = Path(tempfile.mkdtemp(prefix="glacierable-asset-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    return stage_runtime_package(staging)


def layer_parameter_name(
    runtime: lambda_.Runtime = RUNTIME,
    architecture: lambda_.Architecture = ARCHITECTURE,
    version: str = POWERTOOLS_VERSION,
) -> str:
    """Public SSM parameter with the Powertools v3 layer ARN of `version` for this runtime and CPU."""
    return f"/aws/service/powertools/python/{architecture.name}/{runtime.name}/{version}"


def powertools_layer(scope: Construct, id_: str) -> lambda_.ILayerVersion:
    """The public Powertools layer; its ARN is a deploy-time SSM parameter, so synth needs no AWS access."""
    arn = ssm.StringParameter.value_for_string_parameter(scope, layer_parameter_name())
    return lambda_.LayerVersion.from_layer_version_arn(scope, id_, arn)


def env_flag(value: bool) -> str:
    """A boolean as the handlers read it (glacierable.env.env_bool)."""
    return "true" if value else "false"


def lambda_code() -> lambda_.Code:
    """The shared asset for every glacierable function (no Docker bundling)."""
    return lambda_.Code.from_asset(str(_staged_asset()))


class PowertoolsFunction(lambda_.Function):
    """A glacierable Lambda function: arm64, the Powertools layer, logs kept for a month.

    Its role starts with nothing but writing to the function's own log group; every other grant is added by
    the construct that owns the function.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        handler: str,
        service: str,
        description: str,
        timeout: Duration,
        memory_size: int = 256,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.service = service
        log_group = logs.LogGroup(
            scope,
            f"{id_}Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # A role of our own: without one, CDK attaches AWSLambdaBasicExecutionRole (logs on every group).
        role = iam.Role(
            scope,
            f"{id_}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{service}: writes its own log group; other grants are added per function",
        )
        # The log group's Arn attribute ends in ":*", which covers its log streams (PutLogEvents' resource).
        role.add_to_policy(
            iam.PolicyStatement(actions=list(LOG_ACTIONS), resources=[log_group.log_group_arn])
        )
        super().__init__(
            scope,
            id_,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=handler,
            layers=[layer],
            description=description,
            timeout=timeout,
            memory_size=memory_size,
            log_group=log_group,
            role=role,
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                **(environment or {}),
            },
        )

    def metric_count(self, name: str) -> cloudwatch.Metric:
        """The sum of one of the handler's Powertools metrics, named as Powertools publishes it."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": self.service},
            statistic=cloudwatch.Stats.SUM,
            period=Duration.minutes(5),
        )
