"""Pure tag-set logic: add the glacierable tag to an object's tag set without losing the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from glacierable import TAG_KEY

MAX_TAGS = 10
"""S3 allows at most 10 tags per object (PutObjectTagging rejects an 11th)."""


class TooManyTagsError(ValueError):
    """The object already has the maximum number of tags and none of them is glacierable."""


def tag_value(value: bool) -> str:
    """The tag value for a decision: "true" or "false"."""
    return "true" if value else "false"


def merge_glacierable(tag_set: Sequence[Mapping[str, str]], value: bool) -> list[dict[str, str]] | None:
    """The new full tag set with glacierable=value added, or None when no PUT is needed."""
    for tag in tag_set:
        if tag["Key"] == TAG_KEY:
            # Whatever its value, an existing tag is an operator's override (or our own earlier work).
            return None
    if len(tag_set) >= MAX_TAGS:
        raise TooManyTagsError(
            f"object already has {len(tag_set)} tags (S3 allows {MAX_TAGS}) and no {TAG_KEY!r} tag"
        )
    merged = [{"Key": tag["Key"], "Value": tag["Value"]} for tag in tag_set]
    merged.append({"Key": TAG_KEY, "Value": tag_value(value)})
    return merged
