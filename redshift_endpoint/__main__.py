"""CLI: ``python -m redshift_endpoint --port 5439 --backend-port 5432 [--s3-endpoint-url URL]``."""

from __future__ import annotations

import argparse
import logging
import sys

from redshift_endpoint.memory import configure_allocator
from redshift_endpoint.server import EndpointConfig, run_server


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m redshift_endpoint", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=5439, help="port to listen on; 0 picks a free one")
    ap.add_argument("--backend-host", default="127.0.0.1", help="PostgreSQL host")
    ap.add_argument("--backend-port", type=int, default=5432, help="PostgreSQL port")
    ap.add_argument("--s3-endpoint-url", default=None,
                    help="S3 endpoint (default: AWS_ENDPOINT_URL or boto3's default)")
    ap.add_argument("--admin-user", default=None,
                    help="the one user whose password (PGPASSWORD) the endpoint holds: its own backend "
                         "connections serve only sessions of that user (default: any session's user)")
    ap.add_argument("--workers", type=int, default=None, help="conversion processes (default: CPU count)")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    configure_allocator()   # COPY buffers are returned to the system when freed (memory.py)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))
    run_server(EndpointConfig(
        host=args.host, port=args.port, backend_host=args.backend_host, backend_port=args.backend_port,
        s3_endpoint_url=args.s3_endpoint_url, admin_user=args.admin_user, workers=args.workers,
    ))


if __name__ == "__main__":
    main()
