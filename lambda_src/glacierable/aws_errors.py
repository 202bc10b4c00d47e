"""What an AWS error says, read one way everywhere: its code, message and status, and one line for people."""

from __future__ import annotations

from botocore.exceptions import ClientError

from glacierable.clients import EndpointUnreachableError


def error_code(error: BaseException, default: str = "Unknown") -> str:
    """The service's error code ("NoSuchKey", "SlowDown"); `default` when absent or not a ClientError."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or default)
    return default


def error_message(error: BaseException) -> str:
    """The service's error message, or the exception's own text."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message") or error)
    return str(error)


def http_status(error: ClientError) -> int | None:
    """The HTTP status of the failed response, when there was one."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def describe_error(error: BaseException) -> str:
    """One line naming the S3 error code and message, or the exception type for anything else."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code") or "Unknown"
        message = details.get("Message") or ""
        detail = f"{code}: {message}" if message else code
        return f"{detail} ({error.operation_name})"
    if isinstance(error, EndpointUnreachableError):  # "cannot reach S3 at URL: connection refused"
        return str(error)
    return f"{type(error).__name__}: {error}"
