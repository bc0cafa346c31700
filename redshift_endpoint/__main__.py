"""CLI: ``PGPASSWORD=... python -m redshift_endpoint --admin-user USER --port 5439 --backend-port 5432``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from redshift_endpoint import limits
from redshift_endpoint.auth import Credentials
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
    ap.add_argument("--admin-user", default=os.environ.get("REDSHIFT_ENDPOINT_ADMIN_USER"),
                    help="a user clients may log in as, its password in PGPASSWORD (never on the command line); "
                         "the endpoint's own backend connections log in as it "
                         "(default: REDSHIFT_ENDPOINT_ADMIN_USER)")
    ap.add_argument("--auth-file", default=os.environ.get("REDSHIFT_ENDPOINT_AUTH_FILE"),
                    help='more users, one \'"user" "SCRAM-SHA-256$..."\' line each, PgBouncer\'s userlist.txt '
                         "format (default: REDSHIFT_ENDPOINT_AUTH_FILE)")
    ap.add_argument("--login-timeout", type=float,
                    default=float(os.environ.get("REDSHIFT_ENDPOINT_LOGIN_TIMEOUT", limits.LOGIN_SECONDS)),
                    help="seconds a client has to log in (default: REDSHIFT_ENDPOINT_LOGIN_TIMEOUT or "
                         f"{limits.LOGIN_SECONDS:g})")
    ap.add_argument("--workers", type=int, default=None, help="conversion processes (default: CPU count)")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    configure_allocator()   # COPY buffers are returned to the system when freed (memory.py)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))
    config = EndpointConfig(
        host=args.host, port=args.port, backend_host=args.backend_host, backend_port=args.backend_port,
        s3_endpoint_url=args.s3_endpoint_url, admin_user=args.admin_user, auth_file=args.auth_file,
        login_timeout=args.login_timeout, workers=args.workers,
    )
    try:   # the users are checked before anything listens: no user, no endpoint
        Credentials.configure(config.admin_user, os.environ.get("PGPASSWORD"), config.auth_file)
    except (ValueError, OSError) as e:
        ap.error(str(e))
    run_server(config)


if __name__ == "__main__":
    main()
