"""The three commands. Each checks ownership before touching anything and reports what it did."""

from __future__ import annotations

import configparser
import json
import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from infra import iam, network, redshift
from infra.config import (
    PASSWORD_ENV,
    Settings,
    clear_endpoint,
    cost_warning,
    generate_password,
    validate_password,
    write_config,
)
from infra.errors import InfraError, NotOursError
from infra.output import airflow_env, export_lines, redact_logs
from infra.tags import is_ours


class Aborted(Exception):
    """The user did not confirm."""


@dataclass
class Context:
    """AWS session and the two consoles (stdout for results, stderr for progress and notes)."""

    session: boto3.Session
    out: Console = field(default_factory=lambda: Console(file=sys.stdout, highlight=False))
    err: Console = field(default_factory=lambda: Console(file=sys.stderr, highlight=False))
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    @property
    def region(self) -> str:
        return self.session.region_name

    def client(self, name: str):
        # No endpoint_url here on purpose: boto3 then honours AWS_ENDPOINT_URL(_<SERVICE>) itself.
        return self.session.client(name)

    @property
    def partition(self) -> str:
        try:
            return self.session.get_partition_for_region(self.region)
        except Exception:  # unknown region names (e.g. against a local endpoint) are still 'aws'
            return "aws"


def make_context(region: str | None, profile: str | None) -> Context:
    """Region and profile from flags, else the usual AWS sources (env, ~/.aws/config)."""
    session = boto3.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise InfraError("no AWS region configured", "pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    return Context(session=session)


def _wait(ctx: Context, rs, cluster_id: str, want: str, timeout: float, poll: float) -> dict | None:
    """redshift.wait_for with a rich spinner and one line per status change."""
    seen: list[str] = []
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=ctx.err
    ) as bar:
        task = bar.add_task(f"waiting for {cluster_id} to be {want}", total=None)

        def on_status(status: str, elapsed: float) -> None:
            bar.update(task, description=f"cluster {cluster_id}: {status} (want {want})")
            if not seen or seen[-1] != status:
                seen.append(status)
                ctx.err.print(f"cluster {cluster_id}: {status} after {elapsed:.0f}s", markup=False)

        return redshift.wait_for(
            rs,
            cluster_id,
            want,
            timeout=timeout,
            poll=poll,
            on_status=on_status,
            sleep=ctx.sleep,
            clock=ctx.clock,
        )


def _report(ctx: Context, title: str, rows: list[tuple[str, str, str]]) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("resource", "name", "result"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    ctx.err.print(table)


def _password(cp: configparser.ConfigParser, cluster: dict | None, rotate: bool) -> str:
    """The master password: $SPARKIFY_REDSHIFT_PASSWORD, the one in dwh.cfg for an existing cluster, or new."""
    env = os.environ.get(PASSWORD_ENV)
    if env:
        validate_password(env)
        return env
    if cluster is None or rotate:
        return generate_password()
    saved = cp.get("CLUSTER", "DB_PASSWORD", fallback="")
    saved_host = cp.get("CLUSTER", "HOST", fallback="")
    host = cluster.get("Endpoint", {}).get("Address", "")
    if saved and (not saved_host or not host or saved_host == host):
        return saved
    raise InfraError(
        f"cluster {cluster['ClusterIdentifier']} exists but its master password is not in the config file",
        f"set ${PASSWORD_ENV} to it, or pass --rotate-password to set a new one",
    )


def provision(
    ctx: Context,
    path: Path,
    cp: configparser.ConfigParser,
    s: Settings,
    *,
    cidr: str,
    allow_public: bool = False,
    public_endpoint: bool = True,
    show_secrets: bool = False,
    rotate_password: bool = False,
    timeout: float = 1800,
    poll: float = 15,
) -> int:
    """Create (or find) role, security group, ingress rule and cluster; write dwh.cfg; print the env lines."""
    cidr = network.check_cidr(cidr, allow_public)
    iam_c, ec2, rs = ctx.client("iam"), ctx.client("ec2"), ctx.client("redshift")

    # Check every name first, so a foreign resource stops us before we create anything.
    cluster = redshift.find_cluster(rs, s.cluster_id)
    if cluster is not None and not is_ours(cluster.get("Tags")):
        raise NotOursError("Redshift cluster", s.cluster_id)
    role = iam.describe_role(iam_c, s.role_name)
    if role is not None and not is_ours(role["Tags"]):
        raise NotOursError("IAM role", s.role_name)
    vpc_id = network.default_vpc_id(ec2)
    group = network.find_security_group(ec2, s.security_group, vpc_id)
    if group is not None and not is_ours(group.get("Tags")):
        raise NotOursError("security group", s.security_group)

    password = _password(cp, cluster, rotate_password)
    rows: list[tuple[str, str, str]] = []
    with redact_logs(password):
        role_arn, role_actions = iam.ensure_role(iam_c, s.role_name, ctx.partition)
        rows.append(("IAM role", s.role_name, ", ".join(role_actions) or "exists"))
        sg_id, sg_created = network.ensure_security_group(ec2, s.security_group, vpc_id)
        rows.append(
            ("security group", f"{s.security_group} ({sg_id})", "created" if sg_created else "exists")
        )
        # An existing cluster keeps the port it was created with.
        port = int((cluster or {}).get("Endpoint", {}).get("Port") or s.db_port)
        added = network.ensure_ingress(ec2, sg_id, cidr, port)
        rows.append(("ingress rule", f"tcp/{port} from {cidr}", "added" if added else "exists"))

        if cluster is None:
            ctx.err.print(cost_warning(s), style="yellow", markup=False)
            redshift.create_cluster(
                rs,
                s,
                password=password,
                role_arn=role_arn,
                security_group_id=sg_id,
                publicly_accessible=public_endpoint,
                sleep=ctx.sleep,
            )
            rows.append(("Redshift cluster", s.cluster_id, f"created ({s.num_nodes} x {s.node_type})"))
        else:
            done = "exists, master password rotated" if rotate_password else "exists"
            if rotate_password:
                redshift.set_master_password(rs, s.cluster_id, password)
            rows.append(
                (
                    "Redshift cluster",
                    s.cluster_id,
                    f"{done} ({cluster['NumberOfNodes']} x {cluster['NodeType']})",
                )
            )
            notes = _drift(cluster, s, role_arn, sg_id)
            for note in notes:
                ctx.err.print(f"note: {note}", style="yellow", markup=False)

        cluster = _wait(ctx, rs, s.cluster_id, "available", timeout, poll)
        assert cluster is not None
        # What the cluster really has wins over what was asked (an existing cluster keeps its db/user/port).
        s.db_name, s.db_user = cluster["DBName"], cluster["MasterUsername"]
        s.db_port = int(cluster["Endpoint"]["Port"])
        host = cluster["Endpoint"]["Address"]

        write_config(path, cp, s, host=host, password=password, role_arn=role_arn)
        rows.append(("config file", str(path), "written (mode 0600)"))
        _report(ctx, "provision", rows)
        pairs = airflow_env(
            s, host=host, password=password, role_arn=role_arn, region=ctx.region, show_secrets=show_secrets
        )
        sys.stdout.write(export_lines(pairs))
        sys.stdout.flush()
        if not show_secrets:
            ctx.err.print(
                f"secrets are masked; the password is DB_PASSWORD in {path} (or re-run with --show-secrets)",
                markup=False,
            )
    return 0


def _drift(cluster: dict, s: Settings, role_arn: str, sg_id: str) -> list[str]:
    """Differences between an existing cluster and the settings; reported, never changed silently."""
    notes = []
    if cluster["NodeType"] != s.node_type or int(cluster["NumberOfNodes"]) != s.num_nodes:
        notes.append(
            f"cluster is {cluster['NumberOfNodes']} x {cluster['NodeType']}, settings say {s.num_nodes} x {s.node_type}; "
            "resize it yourself if wanted"
        )
    if role_arn not in [r.get("IamRoleArn") for r in cluster.get("IamRoles", [])]:
        notes.append(f"role {role_arn} is not attached to the cluster; COPY will fail until it is")
    if sg_id not in [g.get("VpcSecurityGroupId") for g in cluster.get("VpcSecurityGroups", [])]:
        notes.append(
            f"security group {sg_id} is not attached to the cluster; the ingress rule does not apply to it"
        )
    return notes


def discover(ctx: Context, s: Settings) -> dict:
    """What exists under our names, and whether it is ours."""
    iam_c, ec2, rs = ctx.client("iam"), ctx.client("ec2"), ctx.client("redshift")
    cluster = redshift.find_cluster(rs, s.cluster_id)
    role = iam.describe_role(iam_c, s.role_name)
    group = network.find_security_group(ec2, s.security_group)
    rules = network.ingress_rules(ec2, group["GroupId"]) if group else []
    return {"cluster": cluster, "role": role, "group": group, "rules": rules}


def status(ctx: Context, path: Path, s: Settings, *, as_json: bool = False) -> int:
    """Print what exists (table, or JSON with --json)."""
    found = discover(ctx, s)
    cluster, role, group = found["cluster"], found["role"], found["group"]
    doc = {
        "region": ctx.region,
        "cluster": None
        if cluster is None
        else {
            "id": s.cluster_id,
            "status": cluster["ClusterStatus"],
            "managed": is_ours(cluster.get("Tags")),
            "host": cluster.get("Endpoint", {}).get("Address"),
            "port": cluster.get("Endpoint", {}).get("Port"),
            "node_type": cluster["NodeType"],
            "nodes": cluster["NumberOfNodes"],
            "db_name": cluster.get("DBName"),
            "iam_roles": [r["IamRoleArn"] for r in cluster.get("IamRoles", [])],
        },
        "role": None
        if role is None
        else {
            "name": s.role_name,
            "arn": role["Arn"],
            "managed": is_ours(role["Tags"]),
            "policies": role["AttachedPolicyArns"],
        },
        "security_group": None
        if group is None
        else {"name": s.security_group, "id": group["GroupId"], "managed": is_ours(group.get("Tags"))},
        "ingress": [
            {"cidr": r["Cidr"], "port": r.get("FromPort"), "managed": is_ours(r.get("Tags"))}
            for r in found["rules"]
        ],
        "config": {"path": str(path), "exists": path.exists()},
    }
    if path.exists():
        doc["config"]["mode"] = f"{stat.S_IMODE(path.stat().st_mode):04o}"
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0

    def mine(d: dict | None) -> str:
        return "-" if d is None else ("sparkify-infra" if d["managed"] else "NOT OURS (left alone)")

    table = Table(title=f"sparkify infra in {ctx.region}", title_justify="left")
    for col in ("resource", "name", "state", "owner"):
        table.add_column(col, overflow="fold")
    c = doc["cluster"]
    table.add_row(
        "Redshift cluster",
        s.cluster_id,
        "absent"
        if c is None
        else f"{c['status']} {c['nodes']} x {c['node_type']} {c['host'] or ''}:{c['port'] or ''}",
        mine(c),
    )
    r = doc["role"]
    table.add_row("IAM role", s.role_name, "absent" if r is None else r["arn"], mine(r))
    g = doc["security_group"]
    table.add_row("security group", s.security_group, "absent" if g is None else g["id"], mine(g))
    for rule in doc["ingress"]:
        table.add_row("ingress rule", f"tcp/{rule['port']}", rule["cidr"], mine(rule))
    cfg = doc["config"]
    table.add_row("config file", cfg["path"], f"mode {cfg['mode']}" if cfg["exists"] else "absent", "")
    ctx.out.print(table)
    if c is not None and c["managed"] and c["status"] != "deleting":
        ctx.out.print(cost_warning(Settings(node_type=c["node_type"], num_nodes=c["nodes"])), markup=False)
    return 0


def teardown(
    ctx: Context,
    path: Path,
    s: Settings,
    *,
    yes: bool = False,
    final_snapshot: bool = False,
    timeout: float = 1800,
    poll: float = 15,
    confirm: Callable[[], str] | None = None,
) -> int:
    """Delete our cluster, ingress rules, security group and role; skip anything without our tags."""
    found = discover(ctx, s)
    cluster, role, group = found["cluster"], found["role"], found["group"]
    plan, skipped = [], []
    for kind, name, res, tags in (
        ("Redshift cluster", s.cluster_id, cluster, (cluster or {}).get("Tags")),
        ("IAM role", s.role_name, role, (role or {}).get("Tags")),
        ("security group", s.security_group, group, (group or {}).get("Tags")),
    ):
        if res is not None:
            (plan if is_ours(tags) else skipped).append(f"{kind} {name}")
    our_rules = [r["Cidr"] for r in found["rules"] if is_ours(r.get("Tags"))]
    plan += [f"ingress rule from {c}" for c in our_rules]
    for item in skipped:
        ctx.err.print(f"skipping {item}: not created by sparkify-infra", style="yellow", markup=False)
    if not plan:
        ctx.err.print("nothing of ours to tear down", markup=False)
        return 0
    ctx.err.print("will delete: " + "; ".join(plan), markup=False)
    if not yes:
        try:
            ctx.err.print("Type 'yes' to delete these resources: ", end="", markup=False)
            answer = (confirm or input)()
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            raise Aborted("aborted; nothing was deleted (use --yes to skip this question)")

    rows: list[tuple[str, str, str]] = []
    rs, ec2, iam_c = ctx.client("redshift"), ctx.client("ec2"), ctx.client("iam")
    cluster_ours = cluster is not None and is_ours(cluster.get("Tags"))
    if cluster_ours:
        snapshot = f"{s.cluster_id}-final-{datetime.now(UTC):%Y%m%d%H%M%S}" if final_snapshot else None
        if cluster["ClusterStatus"] != "deleting":
            redshift.delete_cluster(rs, s.cluster_id, snapshot)
        rows.append(
            (
                "Redshift cluster",
                s.cluster_id,
                f"deleted (final snapshot {snapshot})" if snapshot else "deleted",
            )
        )
    if group is not None:
        for cidr in network.revoke_our_ingress(ec2, group["GroupId"]):
            rows.append(("ingress rule", cidr, "revoked"))
    if role is not None and is_ours(role["Tags"]):
        rows.append(("IAM role", s.role_name, iam.delete_role(iam_c, s.role_name)))
    if cluster_ours:
        _wait(ctx, rs, s.cluster_id, "deleted", timeout, poll)
    if group is not None and is_ours(group.get("Tags")):
        # Only possible once the cluster's network interfaces are gone, hence after the wait.
        try:
            ec2.delete_security_group(GroupId=group["GroupId"])
            rows.append(("security group", group["GroupId"], "deleted"))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "DependencyViolation":
                raise
            rows.append(("security group", group["GroupId"], "kept: still in use by another resource"))
    if clear_endpoint(path):
        rows.append(("config file", str(path), "HOST, DB_PASSWORD and ARN cleared"))
    _report(ctx, "teardown", rows)
    return 0
