"""Which S3 operation a path-style HTTP request is: what the fault proxy logs, counts and aims faults at."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

# Sub-resources that name an S3 operation, checked in this order; the rest of the query is parameters.
_OBJECT_OPERATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "GET": (("tagging", "GetObjectTagging"), ("uploadId", "ListParts"), ("", "GetObject")),
    "PUT": (("tagging", "PutObjectTagging"), ("uploadId", "UploadPart"), ("", "PutObject")),
    "POST": (
        ("restore", "RestoreObject"),
        ("uploads", "CreateMultipartUpload"),
        ("uploadId", "CompleteMultipartUpload"),
    ),
    "HEAD": (("", "HeadObject"),),
    "DELETE": (
        ("tagging", "DeleteObjectTagging"),
        ("uploadId", "AbortMultipartUpload"),
        ("", "DeleteObject"),
    ),
}
_BUCKET_OPERATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "GET": (
        ("list-type", "ListObjectsV2"),
        ("versions", "ListObjectVersions"),
        ("lifecycle", "GetBucketLifecycleConfiguration"),
        ("versioning", "GetBucketVersioning"),
        ("uploads", "ListMultipartUploads"),
    ),
    "PUT": (
        ("lifecycle", "PutBucketLifecycleConfiguration"),
        ("versioning", "PutBucketVersioning"),
        ("", "CreateBucket"),
    ),
    "POST": (("delete", "DeleteObjects"),),
    "HEAD": (("", "HeadBucket"),),
}


def s3_operation(method: str, target: str) -> str:
    """The S3 operation a path-style request names, e.g. "PutObjectTagging"; "Other" for the rest."""
    parts = urlsplit(target)
    path = parts.path.lstrip("/")
    if not path or path.startswith("moto-api"):
        return "Other"
    query = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    table = _OBJECT_OPERATIONS if "/" in path.rstrip("/") else _BUCKET_OPERATIONS
    for name, operation in table.get(method, ()):
        if not name or name in query:  # "" matches a request without a recognised sub-resource
            return operation
    return "Other"
