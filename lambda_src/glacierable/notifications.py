"""The tagger's place in a bucket's notification configuration, merged into the owner's (pure, no I/O).

A bucket has one NotificationConfiguration document (topic, queue and Lambda configurations, and the
EventBridge switch), replaced whole by every write. Ours is identified by an Id we derive from the bucket
and prefix (`notification_id`); every other configuration is the owner's and is written back exactly as
read: same Ids, filters and order. CDK's own handler blanks the owner's Ids on update, which is why this
merge exists. Shapes follow the S3 API:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_NotificationConfiguration.html

What a deployment owns is recorded in its physical resource ID (`Deployment`), the one piece of state
CloudFormation hands back on Update and Delete: in `direct` mode our Lambda configuration's Id; in
`eventbridge` mode whether the bucket sent events to EventBridge before we came, so that Delete turns
EventBridge off only if we turned it on.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from glacierable.prefixes import PrefixError, key_prefix

EVENTS_EVENTBRIDGE, EVENTS_DIRECT = "eventbridge", "direct"
EVENT_DELIVERIES = (EVENTS_EVENTBRIDGE, EVENTS_DIRECT)

TOPICS, QUEUES, LAMBDAS = "TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations"
CONFIGURATION_KINDS = {TOPICS: "TopicArn", QUEUES: "QueueArn", LAMBDAS: "LambdaFunctionArn"}
"""Each list of destination configurations, and the key naming its destination."""
EVENTBRIDGE = "EventBridgeConfiguration"

OBJECT_CREATED = "s3:ObjectCreated:*"
NOTIFICATION_ID_PREFIX = "glacierable-tagger-"
_EVENTBRIDGE_ADDED = "glacierable-eventbridge-added"
_EVENTBRIDGE_KEPT = "glacierable-eventbridge-kept"

Document = dict[str, Any]
"""A NotificationConfiguration as boto3 reads and writes it (no ResponseMetadata)."""


class NotificationError(ValueError):
    """A notification setting is invalid, or our configuration cannot be added to the bucket's."""


class OverlapError(NotificationError):
    """In direct mode, the owner already has an ObjectCreated configuration that overlaps ours."""

    def __init__(self, bucket: str, prefix: str, overlaps: list[Overlap]) -> None:
        self.overlaps = overlaps
        listed = "; ".join(overlap.describe() for overlap in overlaps)
        super().__init__(
            f"s3://{bucket}'s own notifications overlap the tagger's (Object Created, keys under "
            f"'{prefix}'): {listed}. S3 rejects overlapping configurations, so nothing was changed. Deploy "
            "with `-c events=eventbridge` (the default), which cannot collide with the bucket's notifications"
        )


def validate_events(value: object, *, setting: str = "events") -> str:
    """`value` if it names an event delivery (eventbridge or direct)."""
    if value not in EVENT_DELIVERIES:
        raise NotificationError(f"{setting} must be one of {', '.join(EVENT_DELIVERIES)}; got {value!r}")
    return str(value)


def validate_prefix(value: object, *, setting: str = "prefix") -> str:
    """`value` as a key prefix, read as duplicity reads its URL path (glacierable.prefixes.key_prefix)."""
    try:
        return key_prefix(value)
    except PrefixError as error:
        raise NotificationError(f"{setting} {error}") from None


def notification_id(bucket: str, prefix: str) -> str:
    """The Id of the tagger's configuration for keys under `prefix` in `bucket`.

    Deterministic, so every deploy finds its own entry again; distinct per bucket and prefix, so stacks
    on different prefixes of one bucket never take each other's.
    """
    digest = hashlib.sha256(f"{bucket}\0{prefix}".encode()).hexdigest()[:12]
    return f"{NOTIFICATION_ID_PREFIX}{digest}"


def tagger_configuration(*, function_arn: str, prefix: str, id_: str) -> dict[str, Any]:
    """Our LambdaFunctionConfiguration: every Object Created event under `prefix` invokes the tagger."""
    configuration: dict[str, Any] = {"Id": id_, "LambdaFunctionArn": function_arn, "Events": [OBJECT_CREATED]}
    if prefix:
        # S3 rejects a filter rule with an empty value: the whole bucket is no filter at all.
        configuration["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    return configuration


# --- overlap ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overlap:
    """One of the owner's configurations that S3 would call overlapping with ours."""

    id: str | None
    kind: str
    """TopicConfigurations, QueueConfigurations or LambdaFunctionConfigurations."""
    destination: str
    events: tuple[str, ...]
    prefix: str
    suffix: str

    def describe(self) -> str:
        """One line naming the configuration by Id, with what it sends where."""
        filters = ", ".join(
            f"{name} {value!r}" for name, value in (("prefix", self.prefix), ("suffix", self.suffix)) if value
        )
        return (
            f"configuration Id {self.id!r} ({self.kind.removesuffix('Configurations')} "
            f"{self.destination}, {', '.join(self.events)}, {filters or 'every key'})"
        )


def key_filter(configuration: Mapping[str, Any]) -> tuple[str, str]:
    """The configuration's (prefix, suffix); '' where it has none. Rule names are case-insensitive."""
    rules = configuration.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    values = {str(rule.get("Name", "")).lower(): str(rule.get("Value", "")) for rule in rules}
    return values.get("prefix", ""), values.get("suffix", "")


def events_overlap(first: Iterable[str], second: Iterable[str]) -> bool:
    """Whether two event lists share an event: equal names, or a family wildcard (`s3:ObjectCreated:*`)."""

    def family(event: str) -> str:
        return event.rsplit(":", 1)[0]

    theirs = list(second)
    for event in first:
        for other in theirs:
            if event == other:
                return True
            if (event.endswith(":*") or other.endswith(":*")) and family(event) == family(other):
                return True
    return False


def filters_overlap(first: tuple[str, str], second: tuple[str, str]) -> bool:
    """Whether some key matches both (prefix, suffix) filters: prefixes nest and suffixes nest.

    That is S3's rule ("Configuration is ambiguously defined"): `backups/` overlaps `` and `backups/h1/`,
    not `logs/`; suffixes `.gz` and `tar.gz` overlap, `.gz` and `.zip` do not. A key made of the longer
    prefix and the longer suffix then matches both.
    """
    (prefix_a, suffix_a), (prefix_b, suffix_b) = first, second
    prefixes = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
    suffixes = suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)
    return prefixes and suffixes


def overlapping_configurations(
    document: Mapping[str, Any],
    *,
    prefix: str,
    suffix: str = "",
    events: Iterable[str] = (OBJECT_CREATED,),
    ignore_ids: Collection[str] = (),
) -> list[Overlap]:
    """The configurations in `document` that overlap one for `events` on keys `prefix`…`suffix`.

    Every destination kind counts (S3 checks the whole document); EventBridge delivery never overlaps.
    `ignore_ids`: configurations to leave out (ours, about to be replaced).
    """
    wanted = list(events)
    found: list[Overlap] = []
    for kind, arn_key in CONFIGURATION_KINDS.items():
        for configuration in document.get(kind, []):
            if configuration.get("Id") in ignore_ids:
                continue
            their_events = [str(e) for e in configuration.get("Events", [])]
            span = key_filter(configuration)
            if events_overlap(wanted, their_events) and filters_overlap((prefix, suffix), span):
                found.append(
                    Overlap(
                        id=configuration.get("Id"),
                        kind=kind,
                        destination=str(configuration.get(arn_key, "")),
                        events=tuple(their_events),
                        prefix=span[0],
                        suffix=span[1],
                    )
                )
    return found


# --- what a deployment owns -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deployment:
    """What one deployment of ours put in a bucket's notification configuration."""

    bucket: str
    mode: str
    notification_id: str | None = None
    """Direct mode: the Id of our LambdaFunctionConfiguration."""
    added_eventbridge: bool = False
    """EventBridge mode: the bucket did not send events to EventBridge before we turned it on."""

    @property
    def physical_id(self) -> str:
        """The physical resource ID recording this deployment (bucket names cannot contain '/')."""
        if self.mode == EVENTS_DIRECT:
            return f"{self.bucket}/{self.notification_id}"
        return f"{self.bucket}/{_EVENTBRIDGE_ADDED if self.added_eventbridge else _EVENTBRIDGE_KEPT}"


def parse_physical_id(value: object) -> Deployment | None:
    """The deployment a physical ID of ours records, or None if it is not one of ours."""
    if not isinstance(value, str):
        return None
    bucket, slash, token = value.partition("/")
    if not bucket or not slash or "/" in token:
        return None
    if token in (_EVENTBRIDGE_ADDED, _EVENTBRIDGE_KEPT):
        return Deployment(bucket, EVENTS_EVENTBRIDGE, added_eventbridge=token == _EVENTBRIDGE_ADDED)
    if token.startswith(NOTIFICATION_ID_PREFIX) and len(token) > len(NOTIFICATION_ID_PREFIX):
        return Deployment(bucket, EVENTS_DIRECT, notification_id=token)
    return None


@dataclass(frozen=True, slots=True)
class Desired:
    """What a Create or Update asks for."""

    bucket: str
    prefix: str
    mode: str
    function_arn: str | None = None
    """The tagger's ARN; required in direct mode."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The document to write and the deployment it makes."""

    document: Document
    deployment: Deployment


def plan_apply(document: Mapping[str, Any], desired: Desired, previous: Deployment | None = None) -> Plan:
    """Put `desired` into `document`, undoing what `previous` (on the same bucket) owned.

    Raises OverlapError in direct mode when the owner's configurations overlap ours: S3 would reject the
    write, so the caller must not attempt it.
    """
    earlier = previous if previous is not None and previous.bucket == desired.bucket else None
    stale = {earlier.notification_id} if earlier and earlier.notification_id else set()
    if desired.mode == EVENTS_DIRECT:
        if not desired.function_arn:
            raise NotificationError("direct delivery needs the tagger's FunctionArn")
        id_ = notification_id(desired.bucket, desired.prefix)
        # A configuration invoking our own tagger is ours whatever its Id: CDK's handler, which earlier
        # versions used, gave it one of its own. Replacing it keeps a stack update from overlapping itself.
        stale |= {
            str(c["Id"])
            for c in document.get(LAMBDAS, [])
            if c.get("LambdaFunctionArn") == desired.function_arn and c.get("Id")
        }
        overlaps = overlapping_configurations(document, prefix=desired.prefix, ignore_ids=stale | {id_})
        if overlaps:
            raise OverlapError(desired.bucket, desired.prefix, overlaps)
        ours = tagger_configuration(function_arn=desired.function_arn, prefix=desired.prefix, id_=id_)
        merged = replace_configuration(document, ours, stale)
        if earlier and earlier.mode == EVENTS_EVENTBRIDGE and earlier.added_eventbridge:
            merged = without_eventbridge(merged)
        return Plan(merged, Deployment(desired.bucket, EVENTS_DIRECT, notification_id=id_))
    validate_events(desired.mode, setting="Events")
    merged = remove_configurations(document, stale)
    if earlier and earlier.mode == EVENTS_EVENTBRIDGE:
        # EventBridge is on because of us now: whether the owner had it is what we recorded then.
        added = earlier.added_eventbridge
    else:
        added = EVENTBRIDGE not in merged
    deployment = Deployment(desired.bucket, EVENTS_EVENTBRIDGE, added_eventbridge=added)
    return Plan(with_eventbridge(merged), deployment)


def plan_remove(document: Mapping[str, Any], deployment: Deployment) -> Document:
    """`document` without what `deployment` owns: our configuration, or EventBridge if we turned it on."""
    ids = {deployment.notification_id} if deployment.notification_id else set()
    remaining = remove_configurations(document, ids)
    if deployment.mode == EVENTS_EVENTBRIDGE and deployment.added_eventbridge:
        remaining = without_eventbridge(remaining)
    return remaining


# --- document edits (each returns a new document; the owner's entries are deep copies, unchanged) -----


def normalized(document: Mapping[str, Any]) -> Document:
    """A deep copy without empty lists, as S3 returns a document (boto3 omits what is absent)."""
    return {key: copy.deepcopy(value) for key, value in document.items() if value != []}


def replace_configuration(
    document: Mapping[str, Any], ours: Mapping[str, Any], stale_ids: Collection[str] = ()
) -> Document:
    """Our Lambda configuration in place of the one with its Id (or any stale Id of ours), else appended."""
    replaced = {ours["Id"], *stale_ids}
    merged: list[Any] = []
    placed = False
    for configuration in document.get(LAMBDAS, []):
        if configuration.get("Id") in replaced:
            if not placed:
                merged.append(copy.deepcopy(dict(ours)))
                placed = True
        else:
            merged.append(copy.deepcopy(configuration))
    if not placed:
        merged.append(copy.deepcopy(dict(ours)))
    return normalized({**document, LAMBDAS: merged})


def remove_configurations(document: Mapping[str, Any], ids: Collection[str]) -> Document:
    """`document` without the Lambda configurations whose Id is in `ids`."""
    kept = [c for c in document.get(LAMBDAS, []) if c.get("Id") not in ids]
    return normalized({**document, LAMBDAS: kept})


def with_eventbridge(document: Mapping[str, Any]) -> Document:
    """`document` with delivery to EventBridge turned on."""
    return {**normalized(document), EVENTBRIDGE: {}}


def without_eventbridge(document: Mapping[str, Any]) -> Document:
    """`document` with delivery to EventBridge turned off."""
    return {key: value for key, value in normalized(document).items() if key != EVENTBRIDGE}
