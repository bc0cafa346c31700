"""docker-compose.yaml on a real Docker engine, end to end. Tests run in file order on
one stack (conftest.py): each builds on the state the previous one left.

The stack's settings come from an env file written by `docker/setup-env.sh --local-images`, as a
user's .env (compose_stack.SETTINGS): uid 1000, a UI password, a warehouse password and AWS keys
that all differ from the built-in defaults.

Faults are injected while a task is *running* (seen through the REST API), so each one hits work
in flight. Retries come from Airflow itself: compose.test.yaml only shortens the retry delay
(airflow_config/airflow_local_settings.py; the DAG is unchanged) and the queued timeout.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from compose_stack import DAG_ID, FIGURES, LOGIN, ROOT, SETTINGS, TASK_LOG_BUCKET, WORKERS

from devstack.datagen.truth import expected_user_levels
from sparkify.tables import PUBLISHED

TASKS_ON_REDSHIFT = {"create_tables", "stage_events", "stage_songs", "load_songplays_fact", "load_users_dim",
                     "load_songs_dim", "load_artists_dim", "load_time_dim", "run_quality_checks"}
TASKS_ON_S3 = {"stage_events", "stage_songs"}
# Kill targets: tasks that last seconds (create_tables takes ~1 s and is often done before the kill).
TASKS_TO_KILL = TASKS_ON_REDSHIFT - {"create_tables"}
CLEAN = ("2018-11-01T21", 6)  # crosses midnight
WORKER_LOSS = ("2018-11-02T03", 2)
RESTARTS = ("2018-11-02T05", 2)
RUN_TIMEOUT = 900  # s per backfill
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker")
PUBLISHED_PORTS = {"airflow-apiserver": "8080/tcp", "redshift": "5439/tcp", "s3": "5000/tcp"}
RETRY_WITHIN = 90  # s from a worker's death to the scheduler retrying its task


def hours(first: str, count: int) -> list[str]:
    start = datetime.strptime(first, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return [(start + timedelta(hours=i)).strftime("%Y-%m-%dT%H") for i in range(count)]


def iso(hour: str) -> str:
    return f"{hour}:00:00Z"


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> dict:
    """The seed job's dataset, regenerated on the host: same generator, same defaults, same bytes."""
    out = tmp_path_factory.mktemp("dataset")
    subprocess.run([sys.executable, "-m", "devstack", "generate", "--out", str(out), "--no-progress"],
                   cwd=ROOT, check=True, capture_output=True)
    return json.loads((out / "truth.json").read_text())


def assert_warehouse_matches(stack, truth: dict, window: list[str]) -> None:
    """Through the `redshift` service: plays per hour, play keys, latest levels, no duplicates."""
    plays = dict(stack.rows(
        "SELECT TO_CHAR(DATE_TRUNC('hour', start_time), 'YYYY-MM-DD\"T\"HH24'), COUNT(*) FROM songplays GROUP BY 1"))
    expected = {h: truth["hours"][h]["plays"] for h in window if truth["hours"].get(h, {}).get("plays")}
    assert sum(expected.values()) > 0
    assert plays == expected
    keys = {f"{s}:{i}" for s, i in stack.rows("SELECT session_id, item_in_session FROM songplays")}
    assert keys == {k for h in window for k in truth["hours"].get(h, {}).get("play_keys", [])}
    assert dict(stack.rows("SELECT user_id, level FROM users")) == expected_user_levels(truth, window)
    for table in PUBLISHED:
        assert stack.rows(f"SELECT {table.key} FROM {table.sql_name} GROUP BY {table.key} HAVING COUNT(*) > 1") == [], \
            table.name


def run_backfill(stack, window: tuple[str, int], on_tick=None) -> tuple[list[dict], list[dict], float]:
    """Create a backfill (one run at a time, as the DAG's staging tables require), call
    on_tick(running task instances) about every second, return (runs, task instances, seconds)."""
    first, count = window
    last = hours(first, count)[-1]
    started = time.monotonic()
    backfill = stack.api("POST", "/backfills", json={
        "dag_id": DAG_ID, "from_date": iso(first), "to_date": iso(last), "max_active_runs": 1,
        "reprocess_behavior": "none", "run_backwards": False, "dag_run_conf": {}})
    deadline = started + RUN_TIMEOUT
    while True:
        runs = stack.backfill_runs(iso(first), iso(last))
        if on_tick:
            running = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/~/taskInstances",
                                params={"state": "running", "limit": 100})["task_instances"]
            on_tick(running)
        if len(runs) == count and all(r["state"] in ("success", "failed") for r in runs):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"backfill {window} not done after {RUN_TIMEOUT}s: "
                                 f"{[(r['logical_date'], r['state']) for r in runs]}\n{stack.diagnose()}")
        time.sleep(1)
    elapsed = time.monotonic() - started
    # The scheduler closes the backfill a little after its last run; the next one waits for that.
    while stack.api("GET", f"/backfills/{backfill['id']}").get("completed_at") is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"backfill {backfill['id']} never completed")
        time.sleep(2)
    tis = stack.task_instances([r["dag_run_id"] for r in runs])
    failed = [(t["dag_run_id"], t["task_id"], t["state"]) for t in tis if t["state"] != "success"
              and t["task_id"] not in ("begin", "end")]
    assert [r["state"] for r in runs] == ["success"] * count, f"runs not green; task instances: {failed}\n" + \
        "\n".join(stack.logs(f"airflow-{s}", 40) for s in ("scheduler", "worker"))
    return runs, tis, elapsed


def worker_hostnames(stack) -> set[str]:
    return {c["Config"]["Hostname"] for c in stack.containers("airflow-worker") if c["State"]["Running"]}


# ----------------------------------------------------------------------------------------- tests
def test_every_service_healthy_or_completed(stack):
    states = stack.wait_healthy(60)
    services = {}
    for c in stack.containers():
        services.setdefault(c["Config"]["Labels"]["com.docker.compose.service"], []).append(
            states[c["Name"].lstrip("/")])
    assert services.pop("airflow-init") == ["completed"]
    assert services.pop("seed") == ["completed"]
    assert services.pop("airflow-worker") == ["healthy"] * WORKERS
    assert set(services) == {"postgres", "redis", "airflow-apiserver", "airflow-scheduler",
                             "airflow-dag-processor", "airflow-triggerer", "s3", "redshift-db", "redshift", "mail"}
    assert all(s == ["healthy"] for s in services.values()), services


def test_images_come_from_the_local_stand_ins(stack):
    # The stack ran on images built here: no registry was used (the engine had none to pull).
    for service, base in (("postgres", "sparkify-base/postgres"), ("redis", "sparkify-base/redis"),
                          ("redshift-db", "sparkify-base/postgres")):
        assert stack.containers(service)[0]["Config"]["Image"].startswith(base)
    # The images built from docker/ are named after the project, not a tag shared by checkouts.
    for service in ("airflow-scheduler", "redshift"):
        image = stack.containers(service)[0]["Config"]["Image"]
        assert image.startswith(stack.project), image
    labels = subprocess.run(["docker", "image", "inspect", "-f", "{{ .Config.Labels }}",
                             stack.containers("airflow-scheduler")[0]["Image"]],
                            capture_output=True, text=True, check=True).stdout
    assert "org.sparkify.inputs" in labels  # the label is inherited from sparkify-base/airflow


def test_airflow_runs_as_the_env_files_uid_with_a_user_name(stack):
    """AIRFLOW_UID=1000 has no passwd entry in the image: the entrypoint adds one (as upstream's
    does), or the scheduler and dag-processor crash-loop with "has no username"."""
    for service in AIRFLOW_SERVICES:
        for container in stack.containers(service):
            out = stack.exec(container["Id"], "sh", "-c", "id -u; id -g; whoami").stdout.split()
            assert out == [SETTINGS["AIRFLOW_UID"], "0", "default"], (service, out)
            assert container["RestartCount"] == 0, f"{service} restarted: {stack.logs(service, 30)}"
    init = stack.logs("airflow-init", 200)
    assert "AIRFLOW_UID not set" not in init and "airflow-init done" in init


def test_airflow_init_refuses_to_run_airflow_as_root(stack):
    result = stack.compose("run", "--rm", "--no-deps", "-T", "airflow-init", check=False, timeout=600,
                           env={**stack.env, "AIRFLOW_UID": "0"})
    assert result.returncode != 0
    assert "AIRFLOW_UID=0 would run every Airflow service as root" in result.stdout + result.stderr
    assert "airflow-init done" not in result.stdout


def test_published_ports_bind_loopback_only(stack):
    for service, port in PUBLISHED_PORTS.items():
        bindings = stack.containers(service)[0]["HostConfig"]["PortBindings"][port]
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1"], (service, bindings)
    # And nothing answers on the machine's other addresses.
    addresses = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    others = [a for a in addresses if ":" not in a and not a.startswith("127.")]
    for address in others[:1]:
        for name in ("AIRFLOW_API_HOST_PORT", "REDSHIFT_HOST_PORT", "S3_HOST_PORT"):
            with pytest.raises(OSError):
                socket.create_connection((address, stack.ports[name]), timeout=3).close()
    FIGURES["ports refused on"] = others[:1]


def test_warehouse_role_is_no_superuser(stack):
    """Through the published endpoint, as the DAG's login: the role is not a superuser, so running
    a program on the server or reading its files is refused by PostgreSQL's own privilege checks."""
    assert stack.rows("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user") == [
        (False, False)]
    for statement in ("COPY (SELECT 1) TO PROGRAM 'id > /tmp/compose-test-pwned'",
                      "SELECT pg_read_file('/etc/passwd')"):
        with pytest.raises(psycopg.Error) as refused:
            stack.rows(statement)
        assert re.search(r"superuser|permission denied|pg_execute_server_program|pg_read_server_files",
                         str(refused.value), re.I), str(refused.value)
    db = stack.containers("redshift-db")[0]["Id"]
    assert stack.exec(db, "test", "-e", "/tmp/compose-test-pwned", check=False).returncode == 1


def test_ui_answers_and_documented_login_works(stack):
    page = httpx.get(stack.api_url + "/", timeout=30, follow_redirects=True)
    assert page.status_code == 200 and "<html" in page.text.lower()
    # The env file's password works; the built-in default "airflow" no longer does.
    good = stack.token(*LOGIN)
    assert good.status_code in (200, 201) and good.json()["access_token"]
    assert stack.token(LOGIN[0], "airflow").status_code == 401
    assert stack.token(LOGIN[0], "not-the-password").status_code == 401
    assert httpx.get(stack.api_url + "/api/v2/dags", timeout=30).status_code == 401  # no token, no data


def test_real_aws_settings_reach_the_containers_as_connections(stack):
    """The documented switch to real AWS (.env), pointed at a fake host: the JSON the Airflow
    containers see parses as the connections the DAG needs. Nothing connects anywhere."""
    fake = {"REDSHIFT_HOST": "sparkify-fake.abc123.us-west-2.redshift.invalid", "REDSHIFT_PORT": "5439",
            "REDSHIFT_USER": "awsuser", "REDSHIFT_PASSWORD": "fake-password", "REDSHIFT_DB": "prod",
            "REDSHIFT_SSL": "true", "SPARKIFY_AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE",
            "SPARKIFY_AWS_SECRET_ACCESS_KEY": "fake-secret", "SPARKIFY_AWS_REGION": "us-west-2",
            "SPARKIFY_S3_ENDPOINT": "null", "SPARKIFY_REDSHIFT_ROLE_ARN": "arn:aws:iam::123456789012:role/fake",
            "SPARKIFY_S3_BUCKET": "udacity-dend"}
    script = (
        "import json, os\n"
        "from airflow.models.connection import Connection\n"
        "out = {'bucket': os.environ['AIRFLOW_VAR_SPARKIFY_S3_BUCKET']}\n"
        "for cid in ('redshift_default', 'aws_default'):\n"
        "    c = Connection.from_json(os.environ['AIRFLOW_CONN_' + cid.upper()], conn_id=cid)\n"
        "    extra = c.extra_dejson\n"
        "    if 'aws_secret_access_key' in extra: extra['aws_secret_access_key'] = True\n"
        "    out[cid] = dict(conn_type=c.conn_type, host=c.host, port=c.port, login=c.login,\n"
        "                    schema=c.schema, extra=extra, has_password=bool(c.password))\n"
        "print('CONNECTIONS ' + json.dumps(out))\n")
    result = stack.compose("run", "--rm", "--no-deps", "-T", "airflow-cli", "python", "-c", script,
                           env={**stack.env, **fake}, timeout=300)
    line = next(x for x in result.stdout.splitlines() if x.startswith("CONNECTIONS "))
    seen = json.loads(line.removeprefix("CONNECTIONS "))
    assert seen["bucket"] == "udacity-dend"
    assert seen["redshift_default"] == {
        "conn_type": "redshift", "host": fake["REDSHIFT_HOST"], "port": 5439, "login": "awsuser",
        "schema": "prod", "extra": {"ssl": True}, "has_password": True}
    assert seen["aws_default"] == {
        "conn_type": "aws", "host": None, "port": None, "login": None, "schema": None,
        "extra": {"aws_access_key_id": "AKIAFAKEFAKEFAKE", "aws_secret_access_key": True,
                  "region": "us-west-2", "region_name": "us-west-2", "endpoint_url": None,
                  "role_arn": fake["SPARKIFY_REDSHIFT_ROLE_ARN"]}, "has_password": False}
    assert "fake-password" not in result.stdout and "fake-secret" not in result.stdout


def test_backfill_green_on_both_workers_and_warehouse_matches_truth(stack, truth):
    deadline = time.monotonic() + 120
    while True:  # the dag-processor parses the mounted dags/ after start-up
        try:
            stack.api("GET", f"/dags/{DAG_ID}")
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    assert stack.api("GET", "/importErrors")["import_errors"] == []
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})

    runs, tis, elapsed = run_backfill(stack, CLEAN)
    FIGURES[f"clean backfill, {CLEAN[1]} hourly runs on {WORKERS} workers (s)"] = round(elapsed, 1)
    FIGURES["per run (s)"] = round(elapsed / CLEAN[1], 1)
    assert len(runs) == CLEAN[1] and all(r["run_type"] == "backfill" for r in runs)
    ran = {t["hostname"] for t in tis if t["task_id"] not in ("begin", "end") and t["hostname"]}
    FIGURES["task instances per worker"] = {h: sum(t["hostname"] == h for t in tis) for h in sorted(ran)}
    assert ran == worker_hostnames(stack), f"tasks ran on {ran}, workers are {worker_hostnames(stack)}"
    assert_warehouse_matches(stack, truth, hours(*CLEAN))


def test_worker_killed_mid_task_is_retried_within_90s_and_worker_comes_back(stack, truth):
    """The worker's main process dies (SIGKILL, as the OOM killer would): the container exits, its
    running task stops heartbeating and is failed after the compose file's heartbeat timeout, then
    retried; `restart: always` brings the worker back (a crash, unlike `docker kill`, is no manual
    stop), and the worker count returns to the file's own."""
    workers = worker_hostnames(stack)
    assert len(workers) == WORKERS
    fault: dict = {}

    def on_tick(running: list[dict]) -> None:
        if "killed_at" not in fault:
            for ti in running:
                if ti["hostname"] in workers and ti["task_id"] in TASKS_TO_KILL:
                    container = stack.container_of_hostname(ti["hostname"])
                    # PID 1 is dumb-init; its child is the Celery worker's main process.
                    stack.exec(container["Id"], "sh", "-c", "kill -KILL $(cat /proc/1/task/1/children)")
                    fault.update(killed_at=time.monotonic(), ti=ti, container=container["Id"],
                                 restarts=container["RestartCount"])
                    return
            return
        ti = fault["ti"]
        now = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}")
        if "noticed_at" not in fault and (now["state"] != "running" or now["try_number"] != ti["try_number"]):
            fault.update(noticed_at=time.monotonic(), noticed_state=now["state"])
        # A new try_number is the scheduler's decision to retry (the try is scheduled or queued);
        # when it then runs depends on how busy the worker's machine is.
        if "retry_at" not in fault and now["try_number"] > ti["try_number"]:
            fault.update(retry_at=time.monotonic(), retry_state=now["state"])
        if "running_at" not in fault and now["try_number"] > ti["try_number"] and now["state"] in ("running", "success"):
            fault.update(running_at=time.monotonic(), retry_host=now["hostname"])

    runs, tis, elapsed = run_backfill(stack, WORKER_LOSS, on_tick)
    assert "killed_at" in fault, "no task was seen running on a worker: nothing was killed"
    ti = fault["ti"]
    final = next(t for t in tis if (t["dag_run_id"], t["task_id"]) == (ti["dag_run_id"], ti["task_id"]))
    retried = sorted((t["task_id"], t["try_number"], t["hostname"]) for t in tis if t["try_number"] > 1)
    FIGURES["worker killed: hit task / its final try / ended on"] = (ti["task_id"], final["try_number"], final["hostname"])
    FIGURES["worker killed: retried task instances"] = retried
    FIGURES["worker killed: backfill of 2 runs (s)"] = round(elapsed, 1)
    if "noticed_at" in fault:
        FIGURES["worker killed: hit task left 'running' after (s)"] = round(fault["noticed_at"] - fault["killed_at"], 1)
        FIGURES["worker killed: hit task state then"] = fault["noticed_state"]
    assert final["try_number"] > ti["try_number"], "the killed task was never retried"
    assert "retry_at" in fault, "the killed task's next try was never seen"
    took = fault["retry_at"] - fault["killed_at"]
    FIGURES["worker killed: next try scheduled after (s)"] = (round(took, 1), fault["retry_state"])
    if "running_at" in fault:
        FIGURES["worker killed: next try running after (s)"] = round(fault["running_at"] - fault["killed_at"], 1)
    assert took < RETRY_WITHIN, f"the killed task was retried {took:.0f} s after the kill"

    # The dead worker restarts by itself and is healthy again: back to the file's worker count.
    deadline = time.monotonic() + 240
    while True:
        container = next(c for c in stack.containers("airflow-worker") if c["Id"] == fault["container"])
        healthy = [c for c in stack.containers("airflow-worker") if c["State"].get("Health", {}).get("Status") == "healthy"]
        if container["RestartCount"] > fault["restarts"] and len(healthy) == WORKERS:
            break
        assert time.monotonic() < deadline, f"the killed worker did not come back: {container['State']}"
        time.sleep(3)
    FIGURES["worker killed: container back and healthy after (s)"] = round(time.monotonic() - fault["killed_at"], 1)
    assert_warehouse_matches(stack, truth, hours(*CLEAN) + hours(*WORKER_LOSS))


def test_no_aws_key_in_any_task_log(stack):
    """The COPY statements carry the AWS keys (CREDENTIALS clause); the connection keeps them in
    its extra, so the masker replaces the key id as well as the secret in every task log, as
    uploaded to the logs bucket (remote logging) and as left on any worker."""
    objects = stack.task_log_objects()
    assert len(objects) > 50, f"expected the backfills' task logs in the logs bucket, found {len(objects)}"
    secrets = (SETTINGS["SPARKIFY_AWS_ACCESS_KEY_ID"], SETTINGS["SPARKIFY_AWS_SECRET_ACCESS_KEY"])
    leaked = [key for key, text in objects.items() if any(secret in text for secret in secrets)]
    assert leaked == []
    for worker in stack.containers("airflow-worker"):
        if worker["State"]["Running"]:
            for secret in secrets:
                found = stack.exec(worker["Id"], "grep", "-rlF", secret, "/opt/airflow/logs", check=False)
                assert found.returncode == 1, f"{secret[:6]}... found in {found.stdout[:500]}"
    # The statement that would carry them is in the logs, masked: the search above had something to find.
    masked = [key for key, text in objects.items() if "aws_access_key_id=***;aws_secret_access_key=***" in text]
    FIGURES["task-log objects checked / with the masked COPY credentials"] = (len(objects), len(masked))
    assert masked, "no task log shows the COPY's masked credentials: nothing proves the keys were there to hide"


def test_log_objects_are_private_and_encrypted(stack):
    s3 = stack.s3_client()
    block = s3.get_public_access_block(Bucket=TASK_LOG_BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4, block
    keys = sorted(stack.task_log_objects())[:20]
    assert keys
    for key in keys:
        assert s3.head_object(Bucket=TASK_LOG_BUCKET, Key=key).get("ServerSideEncryption") == "AES256", key
        grantees = [grant["Grantee"] for grant in s3.get_object_acl(Bucket=TASK_LOG_BUCKET, Key=key)["Grants"]]
        assert all(grantee.get("Type") == "CanonicalUser" for grantee in grantees), (key, grantees)


def test_a_finished_tasks_full_log_is_read_after_its_worker_is_removed(stack):
    """A worker keeps task logs on its own disk (no shared volume); when a task ends its log goes to
    the logs bucket. Remove the worker that ran a finished task, container and disk, and read the
    task's log through the REST API: every record of the uploaded file is there, in order."""
    # Before the `s3` restart below: moto keeps objects in memory, so a restart loses every log object.
    # A stage_events that copied (later hours of a staged day are skipped: the staging cache).
    runs = stack.backfill_runs(iso(CLEAN[0]), iso(hours(*CLEAN)[-1]))
    ti = next(t for t in stack.task_instances([r["dag_run_id"] for r in runs])
              if t["task_id"] == "stage_events" and t["state"] == "success")
    run = next(r for r in runs if r["dag_run_id"] == ti["dag_run_id"])
    worker = stack.container_of_hostname(ti["hostname"])
    objects = stack.task_log_objects()
    key = next(k for k in objects if f"run_id={run['dag_run_id']}/task_id=stage_events/" in k
               and k.endswith(f"attempt={ti['try_number']}.log"))
    uploaded = [json.loads(line)["event"] for line in objects[key].splitlines() if line.strip()]
    assert len(uploaded) > 5 and any("COPY public.staging_events" in event for event in uploaded)

    subprocess.run(["docker", "rm", "--force", worker["Id"]], check=True, capture_output=True, timeout=120)
    assert ti["hostname"] not in worker_hostnames(stack)
    response = httpx.get(
        f"{stack.api_url}/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/stage_events/logs/"
        f"{ti['try_number']}", params={"full_content": True}, timeout=120,
        headers={"Accept": "application/json", "Authorization": f"Bearer {stack.token().json()['access_token']}"})
    response.raise_for_status()
    read = [record.get("event", "") if isinstance(record, dict) else str(record)
            for record in response.json()["content"]]
    position = 0
    for event in uploaded:
        position = next((i for i in range(position, len(read)) if event.splitlines()[0] in read[i]), None)
        assert position is not None, f"missing from the log read through the API: {event[:200]!r}"
    FIGURES["log of a removed worker's task: records uploaded / read through the API"] = (len(uploaded), len(read))
    # Back to the file's worker count for the tests that follow (the other worker is untouched).
    stack.compose("up", "-d", "--no-deps", "airflow-worker", timeout=300)
    stack.wait_healthy(600)
    assert len(worker_hostnames(stack)) == WORKERS


def test_a_message_sent_through_the_alerts_connection_arrives_in_the_mail_sink(stack):
    """The smtp provider's hook, inside the worker, with the compose file's `sparkify_alerts`
    connection: the `mail` service (devstack/mailsink.py) keeps the message as an .eml file."""
    worker = next(c for c in stack.containers("airflow-worker") if c["State"]["Running"])
    subject = f"compose-test {time.time_ns()}"
    sent = stack.exec(worker["Id"], "python", "-c",
                      "import sys; from airflow.providers.smtp.hooks.smtp import SmtpHook\n"
                      "with SmtpHook(smtp_conn_id='sparkify_alerts') as hook:\n"
                      "    hook.send_email_smtp(to=hook.smtp_connection.extra_dejson['to'], subject=sys.argv[1], html_content='<pre>hi</pre>')",
                      subject, check=False)
    assert sent.returncode == 0, f"{worker['Name']}: {sent.stderr[-3000:]}\n{stack.logs('mail', 30)}"
    mail = stack.containers("mail")[0]["Id"]
    deadline = time.monotonic() + 30
    while True:
        found = stack.exec(mail, "grep", "-rlF", f"Subject: {subject}", "/home/devstack/mail", check=False)
        if found.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert found.returncode == 0, stack.logs("mail", 30)
    message = stack.exec(mail, "cat", found.stdout.split()[0]).stdout
    assert "To: oncall@sparkify.local" in message and "From: airflow@sparkify.local" in message


def test_redshift_and_s3_restarted_mid_backfill(stack, truth):
    """`restart redshift` while a warehouse task runs; later `restart s3` while a COPY stage runs,
    with the documented recovery for the in-memory local S3: pause, restart, `run --rm seed`, clear the
    hit run's failed tasks, unpause. Every run ends green and nothing is half-loaded."""
    fault: dict = {}

    def on_tick(running: list[dict]) -> None:
        if "redshift" not in fault:
            hit = [t for t in running if t["task_id"] in TASKS_ON_REDSHIFT]
            if hit:
                t0 = time.monotonic()
                stack.compose("restart", "redshift", timeout=120)
                fault["redshift"] = {"ti": hit[0], "restart_s": round(time.monotonic() - t0, 1)}
        elif "s3" not in fault:
            hit = [t for t in running if t["task_id"] in TASKS_ON_S3
                   and t["dag_run_id"] != fault["redshift"]["ti"]["dag_run_id"]]
            if hit:
                # The documented recovery (docs/compose.md, "Local S3 is in memory"): pause, so that no
                # retry reads a bucket that `seed` is still filling (a partial catalog would be
                # staged and then refused by the gate), restart, re-seed, clear the failed tasks of
                # the hit run (an empty catalog prefix fails `stage_songs` at once, with no retry),
                # unpause. A task that went up for retry instead runs again after the unpause.
                stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": True})
                t0 = time.monotonic()
                stack.compose("restart", "s3", timeout=120)
                t1 = time.monotonic()
                stack.compose("run", "--rm", "--no-deps", "seed", timeout=300)
                t2 = time.monotonic()
                run_id, task_id = hit[0]["dag_run_id"], hit[0]["task_id"]
                while stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")[
                        "state"] in ("running", "queued") and time.monotonic() < t2 + 300:
                    time.sleep(2)
                cleared = stack.api("POST", f"/dags/{DAG_ID}/clearTaskInstances", json={
                    "dry_run": False, "dag_run_id": run_id, "only_failed": True, "reset_dag_runs": True})
                fault["s3"] = {"ti": hit[0], "restart_s": round(t1 - t0, 1), "reseed_s": round(t2 - t1, 1),
                               "cleared": sorted(t["task_id"] for t in cleared["task_instances"])}
                stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})

    runs, tis, elapsed = run_backfill(stack, RESTARTS, on_tick)
    assert set(fault) == {"redshift", "s3"}, f"faults injected: {list(fault)}"
    retried = sorted((t["dag_run_id"][-25:], t["task_id"], t["try_number"]) for t in tis if t["try_number"] > 1)
    FIGURES["restarts: backfill of 2 runs (s)"] = round(elapsed, 1)
    FIGURES["restart redshift / restart s3 / re-seed (s)"] = (
        fault["redshift"]["restart_s"], fault["s3"]["restart_s"], fault["s3"]["reseed_s"])
    FIGURES["restarts: task instances retried"] = retried
    FIGURES["restart s3: failed task instances cleared after the re-seed"] = fault["s3"]["cleared"]
    hit_runs = {fault[k]["ti"]["dag_run_id"] for k in fault}
    assert {r[0] for r in retried} & {h[-25:] for h in hit_runs}, "no affected run retried anything"
    assert_warehouse_matches(stack, truth, hours(*CLEAN) + hours(*WORKER_LOSS) + hours(*RESTARTS))


def test_down_v_leaves_no_container_network_or_volume(stack):
    before = stack.leftovers()
    assert all(before.values()), f"the stack's objects should exist before down: {before}"
    result = stack.down()
    assert result.returncode == 0, result.stderr[-2000:]
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}
