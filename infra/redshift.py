"""The Redshift cluster: find, create, wait, change password, delete."""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from infra.config import Settings
from infra.errors import InfraError, WaitTimeout
from infra.tags import tag_list

# States from which waiting for 'available' cannot succeed without someone acting.
_DEAD_ENDS = {"deleting", "final-snapshot", "paused", "pausing", "hardware-failure", "storage-full"}


def find_cluster(rs, cluster_id: str) -> dict | None:
    """The cluster description (with ``Tags``), or ``None``."""
    try:
        return rs.describe_clusters(ClusterIdentifier=cluster_id)["Clusters"][0]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ClusterNotFound", "ClusterNotFoundFault"):
            return None
        raise


def create_cluster(
    rs,
    s: Settings,
    *,
    password: str,
    role_arn: str,
    security_group_id: str,
    publicly_accessible: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Start creating the cluster; returns its description (status 'creating')."""
    kwargs = dict(
        ClusterIdentifier=s.cluster_id,
        NodeType=s.node_type,
        DBName=s.db_name,
        MasterUsername=s.db_user,
        MasterUserPassword=password,
        Port=s.db_port,
        IamRoles=[role_arn],
        VpcSecurityGroupIds=[security_group_id],
        PubliclyAccessible=publicly_accessible,
        Encrypted=True,
        Tags=tag_list(),
    )
    if s.num_nodes == 1:
        kwargs["ClusterType"] = "single-node"
    else:
        kwargs.update(ClusterType="multi-node", NumberOfNodes=s.num_nodes)
    # A role created seconds ago may not have propagated to Redshift yet (IAM is eventually consistent).
    for attempt in range(6):
        try:
            return rs.create_cluster(**kwargs)["Cluster"]
        except ClientError as exc:
            err = exc.response["Error"]
            if (
                err["Code"] == "InvalidParameterValue"
                and "role" in err.get("Message", "").lower()
                and attempt < 5
            ):
                sleep(5)
                continue
            raise
    raise AssertionError("unreachable")


def set_master_password(rs, cluster_id: str, password: str) -> None:
    """Replace the master password (used by ``provision --rotate-password``)."""
    rs.modify_cluster(ClusterIdentifier=cluster_id, MasterUserPassword=password)


def delete_cluster(rs, cluster_id: str, final_snapshot_id: str | None) -> None:
    """Start deleting; with ``final_snapshot_id`` Redshift keeps a snapshot (which costs storage)."""
    if final_snapshot_id:
        rs.delete_cluster(
            ClusterIdentifier=cluster_id,
            SkipFinalClusterSnapshot=False,
            FinalClusterSnapshotIdentifier=final_snapshot_id,
        )
    else:
        rs.delete_cluster(ClusterIdentifier=cluster_id, SkipFinalClusterSnapshot=True)


def wait_for(
    rs,
    cluster_id: str,
    want: str,
    *,
    timeout: float,
    poll: float,
    on_status: Callable[[str, float], None] = lambda status, elapsed: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict | None:
    """Poll until the cluster is ``want`` ('available' or 'deleted'); returns the last description."""
    start = clock()
    while True:
        cluster = find_cluster(rs, cluster_id)
        status = cluster["ClusterStatus"] if cluster else "deleted"
        elapsed = clock() - start
        on_status(status, elapsed)
        if status == want and (want != "available" or cluster.get("Endpoint", {}).get("Address")):
            return cluster
        if want == "available" and (
            status in _DEAD_ENDS or status.startswith("incompatible") or status == "deleted"
        ):
            raise InfraError(f"cluster {cluster_id} is {status!r}; it will not become available on its own")
        if elapsed >= timeout:
            raise WaitTimeout(
                f"cluster {cluster_id} still {status!r} after {elapsed:.0f}s (want {want!r})",
                "re-run the same command later: it picks up where it stopped; or raise --timeout",
            )
        sleep(poll)
