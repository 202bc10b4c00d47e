"""Alarms for work left undone (dead-letter queues, function errors, metrics given, queues falling behind),
and where they notify: a topic of the stack's with an email subscription, or the operator's own topic."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

PERIOD = Duration.minutes(5)


class AlarmTopic(Construct):
    """A topic for the alarms, with an email subscription (the address confirms it from SNS's first mail).

    Encrypted with a key of its own: CloudWatch cannot publish to a topic encrypted with the AWS-managed
    `alias/aws/sns` key, whose policy no one can change to allow it (AWS re:Post, "cloudwatch-configure-
    alarm-sns"), so the alarms would fail silently. The topic refuses plain-HTTP publishers.
    """

    def __init__(self, scope: Construct, id_: str, *, email: str) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        alarms = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts {stack.stack_name}'s alarm notifications",
            enable_key_rotation=True,
            # Nothing outlives a notification: the key goes with the stack (after KMS's 7-day wait).
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"glacierable alarms ({stack.stack_name})",
            master_key=self.key,
            enforce_ssl=True,
        )
        # The topic policy that enforce_ssl creates replaces SNS's default one: allow this account's
        # alarms explicitly.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarms},
                },
            )
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(email))


class Monitoring(Construct):
    """One alarm on each dead-letter queue's depth, each function's errors, each metric given (≥ 1) and
    each queue's oldest message; every one notifies `alarm_topic` when given (ALARM only, see below)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        dead_letter_queues: Mapping[str, tuple[sqs.IQueue, str]],
        functions: Mapping[str, lambda_.IFunction],
        metric_alarms: Mapping[str, tuple[cloudwatch.IMetric, str]] | None = None,
        queue_ages: Mapping[str, tuple[sqs.IQueue, Duration, str]] | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        """`dead_letter_queues` and `metric_alarms` map an alarm name to what it watches and what it means;
        `queue_ages` to a queue, the age its oldest message may reach, and what an older one means."""
        super().__init__(scope, id_)
        self.alarm_topic = alarm_topic
        self.alarms: list[cloudwatch.Alarm] = []
        self.dead_letter_alarms = {
            name: self._alarm(
                f"{name}NotEmpty",
                meaning,
                queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
            )
            for name, (queue, meaning) in dead_letter_queues.items()
        }
        self.error_alarms = {
            name: self._alarm(
                f"{name}Errors",
                f"The {name} function raised errors: see its log group",
                function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            )
            for name, function in functions.items()
        }
        self.metric_alarms = {
            name: self.add_metric_alarm(name, metric, meaning)
            for name, (metric, meaning) in (metric_alarms or {}).items()
        }
        self.queue_age_alarms = {
            name: self._alarm(
                f"{name}OldestMessage",
                meaning,
                queue.metric_approximate_age_of_oldest_message(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=max_age.to_seconds(),
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )
            for name, (queue, max_age, meaning) in (queue_ages or {}).items()
        }

    def add_metric_alarm(self, name: str, metric: cloudwatch.IMetric, meaning: str) -> cloudwatch.Alarm:
        """An alarm when `metric` reaches 1 in a period, notifying the alarm topic like every other."""
        return self._alarm(name, meaning, metric)

    def _alarm(
        self,
        id_: str,
        meaning: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float = 1,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id_,
            alarm_description=meaning,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if self.alarm_topic is not None:
            # ALARM only, no OK action: most of these metrics are sparse (a daily sweep, an error now and
            # then), so an alarm returns to OK one quiet period later whether or not anyone fixed anything,
            # and an "OK" mail would say the problem is solved when it is not.
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        self.alarms.append(alarm)
        return alarm
