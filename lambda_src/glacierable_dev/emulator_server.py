"""The embedded S3's server process: moto's own WSGI app over HTTP, one request at a time.

`moto_server` serves each request on a new thread behind one dispatcher lock; on these 2-core machines
the threads mostly queue for that lock and the GIL (measured: 159 GetObjectTagging/s). Served one at a
time, with request logging off, the same app answers ~278/s, so benchmarks measure our code, not the
emulator's thread convoy. Every response closes its connection: a single-threaded server must never sit
on an idle keep-alive connection while other clients wait.

One gap in moto 5.2.5 is filled here: it stores a bucket's `EventBridgeConfiguration` but leaves it out of
GetBucketNotificationConfiguration, where S3 returns `<EventBridgeConfiguration/>` once it is enabled.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _Handler(WSGIRequestHandler):
    # HTTP/1.1 so that botocore's `Expect: 100-continue` uploads are answered at once.
    protocol_version = "HTTP/1.1"


def close_after_response(app: WSGIApp) -> WSGIApp:
    """Wrap a WSGI app so that every response says `Connection: close`."""

    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            kept = [(name, value) for name, value in headers if name.lower() != "connection"]
            return start_response(status, [*kept, ("Connection", "close")], *args)

        return app(environ, start)

    return wrapped


def report_eventbridge_configuration() -> None:
    """Patch moto's GetBucketNotificationConfiguration to include EventBridgeConfiguration when enabled."""
    from xml.etree import ElementTree

    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def get_bucket_notification(self: S3Response) -> Any:
        status, headers, body = original(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return status, headers, body
        root = ElementTree.fromstring(body)
        namespace = root.tag.partition("}")[0] + "}" if root.tag.startswith("{") else ""
        ElementTree.register_namespace("", namespace.strip("{}"))
        ElementTree.SubElement(root, f"{namespace}EventBridgeConfiguration")
        return status, headers, ElementTree.tostring(root, encoding="unicode", xml_declaration=True)

    S3Response.get_bucket_notification = get_bucket_notification  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default): a free port, told on stdout")
    args = parser.parse_args(argv)
    # Imported here: moto is a test and demo dependency, never part of the Lambda package.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    report_eventbridge_configuration()
    app = close_after_response(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=False, request_handler=_Handler)
    # Bound before it is told: the parent learns a port nobody else can hold (no pick-then-bind race).
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
