"""Alarms for work left undone: messages in a dead-letter queue, function errors, objects left untagged."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    """One alarm on each dead-letter queue's depth, each function's errors and each metric given (≥ 1)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        dead_letter_queues: Mapping[str, tuple[sqs.IQueue, str]],
        functions: Mapping[str, lambda_.IFunction],
        metric_alarms: Mapping[str, tuple[cloudwatch.IMetric, str]] | None = None,
    ) -> None:
        """`dead_letter_queues` and `metric_alarms` map an alarm name to what it watches and what it means."""
        super().__init__(scope, id_)
        self.dead_letter_alarms = {
            name: cloudwatch.Alarm(
                self,
                f"{name}NotEmpty",
                alarm_description=meaning,
                metric=queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for name, (queue, meaning) in dead_letter_queues.items()
        }
        self.error_alarms = {
            name: cloudwatch.Alarm(
                self,
                f"{name}Errors",
                alarm_description=f"The {name} function raised errors: see its log group",
                metric=function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for name, function in functions.items()
        }
        self.metric_alarms = {
            name: cloudwatch.Alarm(
                self,
                name,
                alarm_description=meaning,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for name, (metric, meaning) in (metric_alarms or {}).items()
        }
