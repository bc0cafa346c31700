"""``python -m infra provision | status | teardown``: see docs/aws-runbook.md."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from infra import actions
from infra.config import CONFIG_ENV, PASSWORD_ENV, Settings, config_path, read_config, resolve_settings
from infra.errors import explain

D = Settings()


def build_parser() -> argparse.ArgumentParser:
    """The CLI. Settings flags default to None so dwh.cfg values win over built-in defaults."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help=f"dwh.cfg to read and write (default ${CONFIG_ENV} or ./dwh.cfg)")
    common.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile)")
    common.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    common.add_argument(
        "--cluster-id", dest="cluster_id", help=f"cluster identifier (default {D.cluster_id})"
    )
    common.add_argument("--role-name", dest="role_name", help=f"IAM role name (default {D.role_name})")
    common.add_argument(
        "--security-group", dest="security_group", help=f"security group name (default {D.security_group})"
    )
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait for the cluster (default 1800)"
    )
    waiting.add_argument(
        "--poll-interval", dest="poll", type=float, default=15, help="seconds between polls (default 15)"
    )

    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "provision", parents=[common, waiting], help="create role, cluster, ingress; write dwh.cfg"
    )
    p.add_argument(
        "--cidr", required=True, help="network allowed to reach the cluster port, e.g. 203.0.113.7/32"
    )
    p.add_argument("--allow-public", action="store_true", help="permit --cidr 0.0.0.0/0 or ::/0")
    p.add_argument(
        "--no-public-endpoint",
        dest="public_endpoint",
        action="store_false",
        help="no public IP: only reachable from inside the VPC",
    )
    p.add_argument("--node-type", dest="node_type", help=f"default {D.node_type}")
    p.add_argument("--num-nodes", dest="num_nodes", type=int, help=f"default {D.num_nodes}")
    p.add_argument("--db-name", dest="db_name", help=f"default {D.db_name}")
    p.add_argument("--db-user", dest="db_user", help=f"master user (default {D.db_user})")
    p.add_argument("--port", dest="db_port", type=int, help=f"default {D.db_port}")
    p.add_argument("--s3-bucket", dest="s3_bucket", help=f"default {D.s3_bucket}")
    p.add_argument("--log-prefix", dest="log_prefix", help=f"default {D.log_prefix}")
    p.add_argument("--song-prefix", dest="song_prefix", help=f"default {D.song_prefix}")
    p.add_argument("--log-jsonpath", dest="log_jsonpath", help=f"default {D.log_jsonpath}")
    p.add_argument("--show-secrets", action="store_true", help="print the password in the connection line")
    p.add_argument(
        "--rotate-password",
        action="store_true",
        help=f"set a new master password on an existing cluster (${PASSWORD_ENV} or generated)",
    )

    s = sub.add_parser("status", parents=[common], help="show what exists")
    s.add_argument("--json", dest="as_json", action="store_true", help="machine-readable output")

    t = sub.add_parser("teardown", parents=[common, waiting], help="delete what provision created")
    t.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    t.add_argument("--final-snapshot", action="store_true", help="keep a final snapshot (billed as storage)")
    return parser


_SETTING_FLAGS = (
    "cluster_id",
    "role_name",
    "security_group",
    "node_type",
    "num_nodes",
    "db_name",
    "db_user",
    "db_port",
    "s3_bucket",
    "log_prefix",
    "song_prefix",
    "log_jsonpath",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 aborted, 2 error)."""
    args = build_parser().parse_args(argv)
    try:
        path = config_path(args.config)
        cp = read_config(path)
        settings = resolve_settings(cp, {k: getattr(args, k, None) for k in _SETTING_FLAGS})
        ctx = actions.make_context(args.region, args.profile)
        if args.command == "provision":
            return actions.provision(
                ctx,
                path,
                cp,
                settings,
                cidr=args.cidr,
                allow_public=args.allow_public,
                public_endpoint=args.public_endpoint,
                show_secrets=args.show_secrets,
                rotate_password=args.rotate_password,
                timeout=args.timeout,
                poll=args.poll,
            )
        if args.command == "status":
            return actions.status(ctx, path, settings, as_json=args.as_json)
        return actions.teardown(
            ctx,
            path,
            settings,
            yes=args.yes,
            final_snapshot=args.final_snapshot,
            timeout=args.timeout,
            poll=args.poll,
        )
    except actions.Aborted as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except Exception as exc:
        err = explain(exc)
        if err is None:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
