"""Unit tests of infra's pure parts: settings, dwh.cfg, passwords, CIDR checks, output, errors, waiting."""

from __future__ import annotations

import logging
import os
import shlex
import stat

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from infra import config, network, output, redshift
from infra.errors import ConfigError, InfraError, PublicCidrRefused, WaitTimeout, explain


def test_flags_override_file_which_overrides_defaults(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_text(
        "[INFRA]\nNODE_TYPE = ra3.xlplus\nNUM_NODES = 2\n[CLUSTER]\nDB_NAME = fromfile\n"
        "[S3]\nLOG_DATA = s3://my-bucket/events\nLOG_JSONPATH = s3://my-bucket/paths/jp.json\n"
        "SONG_DATA = s3://my-bucket/songs/\n"
    )
    s = config.resolve_settings(config.read_config(path), {"num_nodes": 4, "db_user": None})
    assert (s.node_type, s.num_nodes, s.db_name) == ("ra3.xlplus", 4, "fromfile")
    assert s.db_user == config.Settings().db_user  # None flag = not given
    assert (s.s3_bucket, s.log_prefix, s.log_jsonpath, s.song_prefix) == (
        "my-bucket",
        "events",
        "paths/jp.json",
        "songs",
    )


def test_missing_file_gives_defaults(tmp_path):
    assert config.resolve_settings(config.read_config(tmp_path / "none.cfg"), {}) == config.Settings()


@pytest.mark.parametrize(
    "text",
    [
        "[S3]\nLOG_DATA = s3://a/x\nSONG_DATA = s3://b/y\n",  # two buckets
        "[S3]\nLOG_DATA = /local/path\n",  # not an s3 URI
        "[INFRA]\nNUM_NODES = many\n",
        "[INFRA]\nNUM_NODES = 0\n",
        "[CLUSTER]\nDB_PORT = 80\n",
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text):
    path = tmp_path / "dwh.cfg"
    path.write_text(text)
    with pytest.raises(ConfigError):
        config.resolve_settings(config.read_config(path), {})


def test_config_path_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    assert str(config.config_path(None)) == "dwh.cfg"
    monkeypatch.setenv(config.CONFIG_ENV, str(tmp_path / "env.cfg"))
    assert config.config_path(None) == tmp_path / "env.cfg"
    assert str(config.config_path("flag.cfg")) == "flag.cfg"


def test_write_config_is_0600_even_with_a_permissive_umask_and_keeps_other_keys(tmp_path):
    path = tmp_path / "sub" / "dwh.cfg"
    path.parent.mkdir()
    path.write_text("[EXTRA]\nKEEP = me\n")
    os.chmod(path, 0o644)
    old = os.umask(0)
    try:
        cp = config.read_config(path)
        config.write_config(
            path, cp, config.Settings(), host="h.example", password="Pw1xxxxxxx", role_arn="arn:r"
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = config.read_config(path)
    assert back["EXTRA"]["KEEP"] == "me"
    assert back["CLUSTER"]["HOST"] == "h.example"
    assert back["CLUSTER"]["DB_PASSWORD"] == "Pw1xxxxxxx"
    assert back["IAM_ROLE"]["ARN"] == "arn:r"
    assert back["S3"]["LOG_JSONPATH"] == "s3://udacity-dend/log_json_path.json"
    assert [p.name for p in path.parent.iterdir()] == ["dwh.cfg"]  # no temp file left behind

    assert config.clear_endpoint(path)
    cleared = config.read_config(path)
    assert cleared["CLUSTER"]["DB_PASSWORD"] == "" and cleared["CLUSTER"]["HOST"] == ""
    assert cleared["INFRA"]["CLUSTER_IDENTIFIER"] == config.Settings().cluster_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_generated_passwords_meet_redshift_rules_and_differ():
    pws = {config.generate_password() for _ in range(50)}
    assert len(pws) == 50
    for pw in pws:
        config.validate_password(pw)
        assert pw.isalnum() and len(pw) == 32


@pytest.mark.parametrize(
    "bad", ["Short1", "alllower123", "ALLUPPER123", "NoDigitsHere", "Has space1A", "Quote'1Abc", "At@home1A"]
)
def test_password_rules_reject_without_echoing_the_password(bad):
    with pytest.raises(ConfigError) as info:
        config.validate_password(bad)
    assert bad not in str(info.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("203.0.113.7/32", "203.0.113.7/32"),
        ("203.0.113.7", "203.0.113.7/32"),
        ("10.1.2.3/16", "10.1.0.0/16"),
        ("2001:db8::1/64", "2001:db8::/64"),
    ],
)
def test_cidr_normalised(given, expected):
    assert network.check_cidr(given, allow_public=False) == expected


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", " 0.0.0.0/0 "])
def test_public_cidr_refused_unless_allowed(cidr):
    with pytest.raises(PublicCidrRefused, match="--allow-public"):
        network.check_cidr(cidr, allow_public=False)
    assert network.check_cidr(cidr, allow_public=True).endswith("/0")


def test_garbage_cidr_is_a_config_error():
    with pytest.raises(ConfigError):
        network.check_cidr("my-laptop", allow_public=False)


def test_export_lines_round_trip_through_a_shell_parser():
    pairs = [("A", "plain"), ("B", '{"x": "it\'s"}'), ("C", "")]
    parsed = dict(shlex.split(line)[1].split("=", 1) for line in output.export_lines(pairs).splitlines())
    assert parsed == dict(pairs)


def test_connection_lines_mask_the_password_unless_asked():
    s = config.Settings()
    kw = dict(host="h", password="S3cretPassw0rd", role_arn="arn:r", region="eu-west-1")
    assert "S3cretPassw0rd" not in repr(output.airflow_env(s, show_secrets=False, **kw))
    assert "S3cretPassw0rd" in repr(output.airflow_env(s, show_secrets=True, **kw))


def test_redaction_covers_botocore_debug_records_and_url_encoded_forms(caplog):
    secret = "Ab1+/=secret"
    caplog.set_level(logging.DEBUG)
    with output.redact_logs(secret):
        logging.getLogger("botocore.endpoint").debug("params %s", {"MasterUserPassword": secret})
        logging.getLogger("botocore.endpoint").debug("body MasterUserPassword=Ab1%2B%2F%3Dsecret")
    logging.getLogger("botocore.endpoint").debug("after %s", "visible-again")
    assert "MasterUserPassword" in caplog.text and "visible-again" in caplog.text
    assert secret not in caplog.text and "Ab1%2B%2F%3Dsecret" not in caplog.text
    assert output.MASK in caplog.text


def test_cost_warning_states_the_hourly_price():
    assert "$0.25/hour" in config.cost_warning(config.Settings())
    assert "$0.50/hour" in config.cost_warning(config.Settings(num_nodes=2))
    assert "pricing" in config.cost_warning(config.Settings(node_type="xx.future"))


def _client_error(code: str, op: str = "CreateCluster") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "limit"}}, op)


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (NoCredentialsError(), "credentials"),
        (_client_error("ClusterQuotaExceeded"), "quota"),
        (_client_error("LimitExceeded", "CreateRole"), "quota"),
        (_client_error("AccessDenied", "CreateRole"), "not allowed"),
        (_client_error("ExpiredToken"), "rejected the credentials"),
    ],
)
def test_explain_translates_aws_failures(exc, words):
    err = explain(exc)
    assert isinstance(err, InfraError) and words in str(err)


def test_explain_leaves_programming_errors_alone():
    assert explain(KeyError("x")) is None


class _FakeRedshift:
    """describe_clusters returning a scripted sequence of statuses (the last one repeats)."""

    def __init__(self, statuses):
        self.statuses = list(statuses)

    def describe_clusters(self, ClusterIdentifier):  # noqa: N803 - boto3's parameter name
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Clusters": [{"ClusterStatus": status, "Endpoint": {"Address": "h", "Port": 5439}}]}


def test_wait_polls_at_the_interval_until_available():
    slept, seen = [], []
    got = redshift.wait_for(
        _FakeRedshift(["creating", "creating", "available"]),
        "c",
        "available",
        timeout=100,
        poll=7,
        on_status=lambda st, _: seen.append(st),
        sleep=slept.append,
        clock=lambda: 0.0,
    )
    assert got["ClusterStatus"] == "available"
    assert seen == ["creating", "creating", "available"] and slept == [7, 7]


def test_wait_times_out_with_a_hint():
    ticks = iter(range(0, 1000, 10))
    with pytest.raises(WaitTimeout, match="still 'creating'"):
        redshift.wait_for(
            _FakeRedshift(["creating"]),
            "c",
            "available",
            timeout=30,
            poll=10,
            sleep=lambda _: None,
            clock=lambda: float(next(ticks)),
        )


def test_wait_stops_on_a_dead_end_state():
    with pytest.raises(InfraError, match="paused"):
        redshift.wait_for(
            _FakeRedshift(["paused"]), "c", "available", timeout=30, poll=1, sleep=lambda _: None
        )


def test_example_config_matches_the_defaults_and_holds_no_secret():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "infra" / "dwh.cfg.example"
    cp = config.read_config(path)
    assert config.resolve_settings(cp, {}) == config.Settings()
    assert cp["CLUSTER"]["DB_PASSWORD"] == "" and cp["CLUSTER"]["HOST"] == "" and cp["IAM_ROLE"]["ARN"] == ""
