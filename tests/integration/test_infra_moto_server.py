"""`python -m infra` as a real process against a real moto server process, via AWS_ENDPOINT_URL."""

from __future__ import annotations

import configparser
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
REGION = "us-west-2"
CIDR = "203.0.113.7/32"
PASSWORD = "Integration-Pw-4b8e1d"
CLUSTER, ROLE, GROUP = "sparkify-dwh", "sparkify-redshift-s3-read", "sparkify-redshift"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    """A moto server in its own process (with the AWS-managed IAM policies, as a real account has)."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto server did not start (exit {proc.poll()}); see {log.name}")
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _infra(endpoint: str, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "PYTHONPATH": str(REPO),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "SPARKIFY_REDSHIFT_PASSWORD": PASSWORD,
    }
    return subprocess.run(
        [sys.executable, "-m", "infra", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _clients(endpoint: str):
    kw = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return boto3.client("iam", **kw), boto3.client("ec2", **kw), boto3.client("redshift", **kw)


def test_provision_then_teardown_against_a_moto_server(moto_endpoint, tmp_path):
    iam, ec2, rs = _clients(moto_endpoint)
    cfg_path = tmp_path / "dwh.cfg"

    prov = _infra(
        moto_endpoint,
        tmp_path,
        "provision",
        "--cidr",
        CIDR,
        "--config",
        str(cfg_path),
        "--poll-interval",
        "0.2",
    )
    assert prov.returncode == 0, prov.stderr
    assert PASSWORD not in prov.stdout + prov.stderr

    role = iam.get_role(RoleName=ROLE)["Role"]
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]] == [
        "AmazonS3ReadOnlyAccess"
    ]
    cluster = rs.describe_clusters(ClusterIdentifier=CLUSTER)["Clusters"][0]
    assert cluster["ClusterStatus"] == "available"
    assert [r["IamRoleArn"] for r in cluster["IamRoles"]] == [role["Arn"]]
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [GROUP]}])[
        "SecurityGroups"
    ][0]
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [group["GroupId"]]
    ingress = [(p["FromPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p.get("IpRanges", [])]
    assert ingress == [(cluster["Endpoint"]["Port"], CIDR)]

    assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
    cfg = configparser.ConfigParser()
    cfg.optionxform = str
    cfg.read(cfg_path)
    assert cfg["CLUSTER"]["HOST"] == cluster["Endpoint"]["Address"]
    assert cfg["CLUSTER"]["DB_PASSWORD"] == PASSWORD
    assert cfg["IAM_ROLE"]["ARN"] == role["Arn"]

    down = _infra(
        moto_endpoint, tmp_path, "teardown", "--yes", "--config", str(cfg_path), "--poll-interval", "0.2"
    )
    assert down.returncode == 0, down.stderr
    assert rs.describe_clusters()["Clusters"] == []
    assert ROLE not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert (
        ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [GROUP]}])["SecurityGroups"]
        == []
    )
