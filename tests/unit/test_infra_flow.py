"""The whole infra flow against moto's in-process AWS (iam, ec2, redshift): no network, no sleeping."""

from __future__ import annotations

import json
import logging
import shlex
import stat
import subprocess
import sys
from types import SimpleNamespace

import boto3
import moto.iam.models
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra import redshift
from infra.__main__ import main
from infra.config import CONFIG_ENV, PASSWORD_ENV, TAGS, Settings, read_config, validate_password

D = Settings()
CIDR = "203.0.113.7/32"
REGION = "us-west-2"


_S3_READ_ONLY_ONLY = json.dumps(
    {
        k: v
        for k, v in json.loads(moto.iam.models.aws_managed_policies_data).items()
        if k == "AmazonS3ReadOnlyAccess"
    }
)


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """Mocked AWS with dummy credentials and the AWS-managed policy we attach, as in a real account."""
    # Loading all ~1300 AWS-managed policies costs ~1 s per test; the one we use is enough.
    monkeypatch.setattr(moto.iam.models, "aws_managed_policies_data", _S3_READ_ONLY_ONLY)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # AMIs are irrelevant here and cost ~1 s
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", PASSWORD_ENV, CONFIG_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield SimpleNamespace(
            iam=boto3.client("iam"),
            ec2=boto3.client("ec2"),
            rs=boto3.client("redshift"),
            cfg=tmp_path / "dwh.cfg",
        )


@pytest.fixture
def cli(aws, capsys):
    """Run ``python -m infra`` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str):
        extra = ["--poll-interval", "0", "--timeout", "5"] if argv[0] in ("provision", "teardown") else []
        rc = main([*argv, "--config", str(aws.cfg), *extra])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def exports(stdout: str) -> dict[str, str]:
    """NAME -> value of the ``export NAME=...`` lines, parsed as a shell would."""
    pairs = {}
    for line in stdout.splitlines():
        words = shlex.split(line)
        if words and words[0] == "export":
            name, _, value = words[1].partition("=")
            pairs[name] = value
    return pairs


def our_ingress(aws, cidr=CIDR):
    groups = aws.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [D.security_group]}])
    rules = []
    for group in groups["SecurityGroups"]:
        for perm in group["IpPermissions"]:
            for rng in perm.get("IpRanges", []) + perm.get("Ipv6Ranges", []):
                rules.append((perm.get("FromPort"), rng.get("CidrIp") or rng.get("CidrIpv6")))
    return [r for r in rules if r[1] == cidr]


def role_names(aws):
    return {r["RoleName"] for r in aws.iam.list_roles()["Roles"]}


def test_provision_creates_role_group_rule_cluster_and_config(aws, cli):
    rc, _, err = cli("provision", "--cidr", CIDR)
    assert rc == 0, err

    role = aws.iam.get_role(RoleName=D.role_name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "redshift.amazonaws.com"}
    attached = aws.iam.list_attached_role_policies(RoleName=D.role_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    assert {t["Key"]: t["Value"] for t in aws.iam.list_role_tags(RoleName=D.role_name)["Tags"]} == TAGS

    cluster = aws.rs.describe_clusters(ClusterIdentifier=D.cluster_id)["Clusters"][0]
    assert (cluster["NodeType"], cluster["NumberOfNodes"], cluster["DBName"], cluster["MasterUsername"]) == (
        D.node_type,
        1,
        D.db_name,
        D.db_user,
    )
    assert cluster["Endpoint"]["Port"] == D.db_port
    assert [r["IamRoleArn"] for r in cluster["IamRoles"]] == [role["Arn"]]
    assert {t["Key"]: t["Value"] for t in cluster["Tags"]} == TAGS

    group = aws.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [D.security_group]}])
    group_id = group["SecurityGroups"][0]["GroupId"]
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [group_id]
    assert our_ingress(aws) == [(D.db_port, CIDR)]

    assert stat.S_IMODE(aws.cfg.stat().st_mode) == 0o600
    cfg = read_config(aws.cfg)
    assert cfg["CLUSTER"]["HOST"] == cluster["Endpoint"]["Address"]
    assert (cfg["CLUSTER"]["DB_NAME"], cfg["CLUSTER"]["DB_USER"], cfg["CLUSTER"]["DB_PORT"]) == (
        D.db_name,
        D.db_user,
        str(D.db_port),
    )
    validate_password(cfg["CLUSTER"]["DB_PASSWORD"])  # a generated one, meeting Redshift's rules
    assert cfg["IAM_ROLE"]["ARN"] == role["Arn"]
    assert dict(cfg["S3"]) == {
        "LOG_DATA": "s3://udacity-dend/log_data",
        "LOG_JSONPATH": "s3://udacity-dend/log_json_path.json",
        "SONG_DATA": "s3://udacity-dend/song_data",
    }
    assert "$0.25/hour" in err  # the cost warning


def test_provision_again_creates_nothing_and_keeps_the_password(aws, cli):
    assert cli("provision", "--cidr", CIDR)[0] == 0
    first = read_config(aws.cfg)["CLUSTER"]["DB_PASSWORD"]
    created = aws.rs.describe_clusters()["Clusters"][0]["ClusterCreateTime"]
    roles, groups = role_names(aws), aws.ec2.describe_security_groups()["SecurityGroups"]

    rc, out, err = cli("provision", "--cidr", CIDR)
    assert rc == 0, err
    assert len(aws.rs.describe_clusters()["Clusters"]) == 1
    assert aws.rs.describe_clusters()["Clusters"][0]["ClusterCreateTime"] == created
    assert role_names(aws) == roles
    assert len(aws.ec2.describe_security_groups()["SecurityGroups"]) == len(groups)
    assert len(our_ingress(aws)) == 1
    assert read_config(aws.cfg)["CLUSTER"]["DB_PASSWORD"] == first
    assert "created" not in err and "added" not in err
    assert "AIRFLOW_CONN_REDSHIFT_DEFAULT" in exports(out)  # lines are printed again for convenience


_PARSE_WITH_AIRFLOW = """
import json, sys
from airflow.models.connection import Connection
out = {}
for conn_id, value in json.load(sys.stdin).items():
    c = Connection.from_json(value, conn_id=conn_id)
    out[conn_id] = dict(conn_type=c.conn_type, host=c.host, port=c.port, login=c.login,
                        password=c.password, schema=c.schema, extra=c.extra_dejson)
print(json.dumps(out))
"""


def parse_with_airflow(conns: dict[str, str], airflow_home) -> dict[str, dict]:
    """Parse connection values with Airflow's own Connection class.

    In a child process: importing Airflow configures process-wide logging, which would leak into
    the other tests of this session.
    """
    env = {
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE_WITH_AIRFLOW],
        input=json.dumps(conns),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_printed_lines_parse_as_airflow_connections_and_variables(aws, cli, tmp_path):
    rc, masked_out, _ = cli("provision", "--cidr", CIDR)
    assert rc == 0
    env = exports(masked_out)
    rc, shown_out, _ = cli("provision", "--cidr", CIDR, "--show-secrets")
    assert rc == 0
    conns = parse_with_airflow(
        {
            "redshift_default": env["AIRFLOW_CONN_REDSHIFT_DEFAULT"],
            "aws_default": env["AIRFLOW_CONN_AWS_DEFAULT"],
            "shown": exports(shown_out)["AIRFLOW_CONN_REDSHIFT_DEFAULT"],
        },
        tmp_path / "airflow_home",
    )
    cluster = aws.rs.describe_clusters(ClusterIdentifier=D.cluster_id)["Clusters"][0]
    role_arn = aws.iam.get_role(RoleName=D.role_name)["Role"]["Arn"]
    password = read_config(aws.cfg)["CLUSTER"]["DB_PASSWORD"]

    rs = conns["redshift_default"]
    assert (rs["conn_type"], rs["host"], rs["port"], rs["login"], rs["schema"]) == (
        "redshift",
        cluster["Endpoint"]["Address"],
        cluster["Endpoint"]["Port"],
        cluster["MasterUsername"],
        cluster["DBName"],
    )
    assert rs["password"] != password  # masked by default
    assert conns["shown"]["password"] == password  # --show-secrets

    aws_conn = conns["aws_default"]
    assert aws_conn["conn_type"] == "aws"
    assert aws_conn["extra"]["role_arn"] == role_arn
    assert aws_conn["extra"]["region"] == REGION

    # docs/CONTRACTS.md: the variables the DAG reads and their defaults.
    assert {k: v for k, v in env.items() if k.startswith("AIRFLOW_VAR_")} == {
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": "udacity-dend",
        "AIRFLOW_VAR_SPARKIFY_LOG_PREFIX": "log_data",
        "AIRFLOW_VAR_SPARKIFY_SONG_PREFIX": "song_data",
        "AIRFLOW_VAR_SPARKIFY_LOG_JSONPATH": "log_json_path.json",
    }


def test_password_from_env_is_used_and_never_printed_or_logged(aws, cli, monkeypatch, caplog):
    password = "Sparkify-Test-Pw-7f3a9c"
    monkeypatch.setenv(PASSWORD_ENV, password)
    caplog.set_level(logging.DEBUG)  # botocore logs request parameters at DEBUG
    rc1, out1, err1 = cli("provision", "--cidr", CIDR)
    rc2, out2, err2 = cli("status")
    rc3, out3, err3 = cli("teardown", "--yes")
    assert (rc1, rc2, rc3) == (0, 0, 0)
    assert "CreateCluster" in caplog.text  # the redaction really had botocore records to work on
    for text in (out1, err1, out2, err2, out3, err3, caplog.text):
        assert password not in text


def test_password_from_env_lands_in_config(aws, cli, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "Sparkify-Test-Pw-7f3a9c")
    assert cli("provision", "--cidr", CIDR)[0] == 0
    assert read_config(aws.cfg)["CLUSTER"]["DB_PASSWORD"] == "Sparkify-Test-Pw-7f3a9c"


def test_weak_password_from_env_is_refused_before_anything_is_created(aws, cli, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "weak")
    rc, _, err = cli("provision", "--cidr", CIDR)
    assert rc == 2 and PASSWORD_ENV in err and "weak" not in err.replace(PASSWORD_ENV, "")
    assert aws.rs.describe_clusters()["Clusters"] == []


def test_unknown_password_of_existing_cluster_needs_env_or_rotation(aws, cli):
    assert cli("provision", "--cidr", CIDR)[0] == 0
    old = read_config(aws.cfg)["CLUSTER"]["DB_PASSWORD"]
    aws.cfg.unlink()
    rc, _, err = cli("provision", "--cidr", CIDR)
    assert rc == 2 and "--rotate-password" in err
    rc, _, err = cli("provision", "--cidr", CIDR, "--rotate-password")
    assert rc == 0, err
    new = read_config(aws.cfg)["CLUSTER"]["DB_PASSWORD"]
    validate_password(new)
    assert new != old


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_public_cidr_is_refused_and_nothing_is_created(aws, cli, cidr):
    rc, out, err = cli("provision", "--cidr", cidr)
    assert rc == 2 and "--allow-public" in err and out == ""
    assert aws.rs.describe_clusters()["Clusters"] == []
    assert D.role_name not in role_names(aws)
    assert not aws.cfg.exists()


def test_public_cidr_with_allow_public(aws, cli):
    assert cli("provision", "--cidr", "0.0.0.0/0", "--allow-public")[0] == 0
    assert our_ingress(aws, "0.0.0.0/0") == [(D.db_port, "0.0.0.0/0")]


def test_flags_choose_size_names_and_port(aws, cli):
    rc, out, err = cli(
        "provision",
        "--cidr",
        CIDR,
        "--cluster-id",
        "other-dwh",
        "--node-type",
        "ra3.xlplus",
        "--num-nodes",
        "2",
        "--port",
        "5440",
        "--db-name",
        "warehouse",
        "--s3-bucket",
        "my-bucket",
    )
    assert rc == 0, err
    cluster = aws.rs.describe_clusters(ClusterIdentifier="other-dwh")["Clusters"][0]
    assert (
        cluster["NodeType"],
        cluster["NumberOfNodes"],
        cluster["DBName"],
        cluster["Endpoint"]["Port"],
    ) == (
        "ra3.xlplus",
        2,
        "warehouse",
        5440,
    )
    assert our_ingress(aws) == [(5440, CIDR)]
    assert exports(out)["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"] == "my-bucket"
    # teardown finds the same names from dwh.cfg without repeating the flags
    assert cli("teardown", "--yes")[0] == 0
    assert aws.rs.describe_clusters()["Clusters"] == []


def test_status_reports_what_exists(aws, cli):
    rc, out, _ = cli("status", "--json")
    before = json.loads(out)
    assert rc == 0 and before["cluster"] is None and before["role"] is None and before["ingress"] == []

    assert cli("provision", "--cidr", CIDR)[0] == 0
    rc, out, _ = cli("status", "--json")
    doc = json.loads(out)
    assert doc["cluster"]["status"] == "available" and doc["cluster"]["managed"] is True
    assert doc["role"]["arn"] == aws.iam.get_role(RoleName=D.role_name)["Role"]["Arn"]
    assert doc["ingress"] == [{"cidr": CIDR, "port": D.db_port, "managed": True}]
    assert doc["config"]["mode"] == "0600"

    rc, out, _ = cli("status")
    assert rc == 0 and D.cluster_id in out and "available" in out and CIDR in out


def test_teardown_asks_and_aborts_without_yes(aws, cli, monkeypatch):
    assert cli("provision", "--cidr", CIDR)[0] == 0
    monkeypatch.setattr("builtins.input", lambda: "no")
    rc, _, err = cli("teardown")
    assert rc == 1 and "nothing was deleted" in err
    assert len(aws.rs.describe_clusters()["Clusters"]) == 1 and D.role_name in role_names(aws)

    monkeypatch.setattr("builtins.input", lambda: "yes")
    assert cli("teardown")[0] == 0
    assert aws.rs.describe_clusters()["Clusters"] == []


def test_teardown_removes_everything_it_created(aws, cli):
    assert cli("provision", "--cidr", CIDR)[0] == 0
    rc, _, err = cli("teardown", "--yes")
    assert rc == 0, err
    assert aws.rs.describe_clusters()["Clusters"] == []
    assert D.role_name not in role_names(aws)
    assert (
        aws.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [D.security_group]}])[
            "SecurityGroups"
        ]
        == []
    )
    assert aws.rs.describe_cluster_snapshots()["Snapshots"] == []
    cfg = read_config(aws.cfg)
    assert (
        cfg["CLUSTER"]["HOST"] == "" and cfg["CLUSTER"]["DB_PASSWORD"] == "" and cfg["IAM_ROLE"]["ARN"] == ""
    )

    rc, _, err = cli("teardown", "--yes")  # again: nothing left, still fine
    assert rc == 0 and "nothing" in err


def test_teardown_final_snapshot(aws, cli):
    assert cli("provision", "--cidr", CIDR)[0] == 0
    assert cli("teardown", "--yes", "--final-snapshot")[0] == 0
    snaps = aws.rs.describe_cluster_snapshots()["Snapshots"]
    assert len(snaps) == 1 and snaps[0]["SnapshotIdentifier"].startswith(f"{D.cluster_id}-final-")


def _foreign_cluster(aws):
    aws.rs.create_cluster(
        ClusterIdentifier=D.cluster_id,
        NodeType="dc2.large",
        ClusterType="single-node",
        MasterUsername="someone",
        MasterUserPassword="Someone-Else-1",
    )


def test_cluster_id_taken_by_someone_else_stops_provision_before_creating_anything(aws, cli):
    _foreign_cluster(aws)
    rc, _, err = cli("provision", "--cidr", CIDR)
    assert rc == 2 and "not created by sparkify-infra" in err and D.cluster_id in err
    assert D.role_name not in role_names(aws)
    assert not aws.cfg.exists()


def test_teardown_leaves_foreign_resources_alone(aws, cli):
    _foreign_cluster(aws)
    aws.iam.create_role(
        RoleName=D.role_name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    rc, _, err = cli("teardown", "--yes")
    assert rc == 0 and "skipping" in err
    assert len(aws.rs.describe_clusters()["Clusters"]) == 1
    assert D.role_name in role_names(aws)


def test_foreign_role_stops_provision(aws, cli):
    aws.iam.create_role(RoleName=D.role_name, AssumeRolePolicyDocument="{}")
    rc, _, err = cli("provision", "--cidr", CIDR)
    assert rc == 2 and "IAM role" in err and "not created by sparkify-infra" in err
    assert aws.rs.describe_clusters()["Clusters"] == []


def test_quota_exceeded_is_a_clear_error(aws, cli, monkeypatch):
    def over_quota(*args, **kwargs):
        raise ClientError({"Error": {"Code": "ClusterQuotaExceeded", "Message": "too many"}}, "CreateCluster")

    monkeypatch.setattr(redshift, "create_cluster", over_quota)
    rc, _, err = cli("provision", "--cidr", CIDR)
    assert rc == 2 and "error: AWS quota exceeded in CreateCluster" in err  # an uncaught exception would escape main()


def test_missing_credentials_is_a_clear_error(monkeypatch, tmp_path, capsys):
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    rc = main(["status", "--config", str(tmp_path / "dwh.cfg")])
    assert rc == 2 and "no usable AWS credentials" in capsys.readouterr().err


def test_missing_region_is_a_clear_error(monkeypatch, tmp_path, capsys):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    rc = main(["status", "--config", str(tmp_path / "dwh.cfg")])
    assert rc == 2 and "--region" in capsys.readouterr().err


def test_aws_endpoint_url_is_honoured(monkeypatch):
    from infra.actions import make_context

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ctx = make_context(REGION, None)
    for service in ("iam", "ec2", "redshift"):
        assert ctx.client(service).meta.endpoint_url == "http://127.0.0.1:5999"
