"""Lambda functions on the newest Python the public Powertools v3 layer supports; layer ARN from SSM."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_14
"""Newest runtime with a published Powertools v3 layer (AWSLambdaPowertoolsPythonV3-python314-arm64)."""

ARCHITECTURE = lambda_.Architecture.ARM_64

METRICS_NAMESPACE = "Glacierable"

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
"""The Lambda asset: the runtime package only; boto3 comes from the runtime, Powertools from the layer."""

ASSET_EXCLUDE = [
    "**/__pycache__",
    "**/*.pyc",
    "**/*.egg-info",
    "**/.mypy_cache",
    "**/.pytest_cache",
    "**/.ruff_cache",
    "**/tests",
    "**/moto*",
    "**/duplicity*",
    # The demo drives moto and duplicity on this machine; it has no business in Lambda.
    "glacierable/demo",
]


def layer_parameter_name(
    runtime: lambda_.Runtime = RUNTIME, architecture: lambda_.Architecture = ARCHITECTURE
) -> str:
    """Public SSM parameter holding the latest Powertools v3 layer ARN for this runtime and architecture."""
    return f"/aws/service/powertools/python/{architecture.name}/{runtime.name}/latest"


def powertools_layer(scope: Construct, id_: str) -> lambda_.ILayerVersion:
    """The public Powertools layer; its ARN is a deploy-time SSM parameter, so synth needs no AWS access."""
    arn = ssm.StringParameter.value_for_string_parameter(scope, layer_parameter_name())
    return lambda_.LayerVersion.from_layer_version_arn(scope, id_, arn)


def lambda_code() -> lambda_.Code:
    """The shared asset for every glacierable function (no Docker bundling)."""
    return lambda_.Code.from_asset(str(LAMBDA_SRC), exclude=ASSET_EXCLUDE)


class PowertoolsFunction(lambda_.Function):
    """A glacierable Lambda function: arm64, the Powertools layer, logs kept for a month."""

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
