"""What can be proven about docker-compose.yaml without a Docker engine.

No engine runs here, so these tests check the file's structure and its references: the Compose
schema, paths, variables, Dockerfile sources, the dependency graph, and that the environment given
to Airflow provides every connection and variable the DAG reads (found by scanning dags/).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
WORKER = "airflow-worker"


# ----------------------------------------------------------------------------------- helpers
def load_compose() -> dict:
    # safe_load resolves the `<<: *anchor` merge keys the way Compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


def parse_dotenv(text: str, *, commented: bool = False) -> dict[str, str]:
    """KEY=VALUE lines as Compose reads them (quotes stripped; single quotes are literal).

    With commented=True, read `# KEY=VALUE` lines instead (the documented real-AWS example)."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if commented:
            if not line.startswith("#"):
                continue
            line = line[1:].strip()
        elif line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if not match:
            continue
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


def _braced_end(text: str, start: int) -> int:
    """Index of the `}` closing the `${` that starts at `start` (nesting-aware)."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unclosed ${{ in {text!r}")


_EXPR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", re.S)


def interpolate(text: str, env: dict[str, str], used: list[tuple[str, bool]] | None = None) -> str:
    """Compose-style interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR:+x},
    with nested expressions in defaults. Records (name, has_fallback) in `used`."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _braced_end(text, i)
            match = _EXPR.fullmatch(text[i + 2 : end])
            if not match:
                raise ValueError(f"bad expression {text[i:end + 1]!r}")
            name, op, arg = match.groups()
            if used is not None:
                used.append((name, op in (":-", "-", ":+", "+")))
            value = env.get(name)
            if op is None:
                out.append(value or "")
            elif op in (":-", "-"):
                missing = value is None or (op == ":-" and value == "")
                out.append(interpolate(arg, env, used) if missing else value)
            elif op in (":+", "+"):
                present = value is not None and (op == "+" or value != "")
                out.append(interpolate(arg, env, used) if present else "")
            else:  # :? and ?
                if value is None or (op == ":?" and value == ""):
                    raise KeyError(f"{name}: {arg}")
                out.append(value)
            i = end + 1
        elif text[i] == "$" and (match := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:])):
            if used is not None:
                used.append((match.group(1), False))
            out.append(env.get(match.group(1), ""))
            i += match.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def walk_strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(key)
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)


def service_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def airflow_services(compose: dict) -> dict[str, dict]:
    """Services running the Airflow image: the ones whose environment sets an executor."""
    return {
        name: svc
        for name, svc in compose["services"].items()
        if "AIRFLOW__CORE__EXECUTOR" in service_env(svc)
    }


def build_of(service: dict) -> tuple[Path, Path] | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = (ROOT / build.get("context", ".")).resolve()
    return context, context / build.get("dockerfile", "Dockerfile")


def dockerfiles(compose: dict) -> dict[Path, Path]:
    """Each Dockerfile the compose file builds, with its build context."""
    found = {}
    for service in compose["services"].values():
        if pair := build_of(service):
            found[pair[1]] = pair[0]
    return found


def copy_sources(dockerfile: Path) -> list[str]:
    """Sources of COPY/ADD instructions that read from the build context (not --from= stages)."""
    sources = []
    logical = re.sub(r"\\\n", " ", dockerfile.read_text())
    for line in logical.splitlines():
        words = shlex.split(line.strip(), comments=True) if line.strip() else []
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = words[1:]
        if any(arg.startswith("--from") for arg in args):
            continue
        args = [arg for arg in args if not arg.startswith("--")]
        if args and args[0].startswith("["):  # JSON form
            args = json.loads(" ".join(args))
        sources.extend(args[:-1])
    return sources


def dockerignore_patterns(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: a pattern matches the path or one of its parent directories;
    later `!` patterns re-include."""
    parts = Path(rel.strip("/")).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").strip("/")
        pat = pat[3:] if pat.startswith("**/") else pat
        if any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p.split("/")[-1], pat) for p in prefixes):
            result = not negate
    return result


# DAG-side reads. Variables: Variable.get("x"), var.value.get('x'), Jinja {{ var.value.x }} /
# {{ var.json.x }}. Connections: any `..._conn_id = "x"` keyword, default or constant.
_VARIABLE_PATTERNS = [
    re.compile(r"Variable\.get\(\s*(?:key\s*=\s*)?['\"]([^'\"]+)['\"]"),
    re.compile(r"var\.(?:value|json)\.get\(\s*['\"]([^'\"]+)['\"]"),
    re.compile(r"var\.(?:value|json)\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()"),
    # Keys held in upper-case constants, e.g. BUCKET_VARIABLE = "sparkify_s3_bucket".
    re.compile(r"\b[A-Z][A-Z0-9_]*_VAR(?:IABLE)?(?:_KEY|_NAME)?\s*(?::\s*str)?\s*=\s*['\"]([A-Za-z0-9_]+)['\"]"),
]
_CONN_PATTERN = re.compile(
    r"\b\w*conn_id\b\s*(?::\s*[\w\[\]|. ]+?)?\s*=\s*['\"]([A-Za-z0-9_.-]+)['\"]", re.IGNORECASE
)


def dag_reads() -> tuple[set[str], set[str]]:
    """(variable keys, connection ids) read by the DAG files; plugins' operator defaults count too,
    since a task that does not pass a conn id uses them."""
    variables: set[str] = set()
    connections: set[str] = set()
    for folder in ("dags", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = path.read_text()
            for pattern in _VARIABLE_PATTERNS:
                variables.update(m for m in pattern.findall(source) if m != "get")
            connections.update(_CONN_PATTERN.findall(source))
    return variables, connections


# ------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_dotenv(ENV_EXAMPLE.read_text())


def test_validates_against_compose_spec():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_build_contexts_and_dockerfiles_exist(compose):
    builds = {name: build_of(svc) for name, svc in compose["services"].items() if svc.get("build")}
    assert builds, "nothing is built from the repository"
    for name, (context, dockerfile) in builds.items():
        assert context.is_dir(), f"{name}: build context {context} missing"
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"


def test_bind_mounts_exist_and_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes") or []:
            source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":")[0]
            source = interpolate(source, {})
            if source.startswith((".", "/", "~")):
                assert (ROOT / source).exists(), f"{name}: bind mount source {source} missing"
            else:
                assert source in declared, f"{name}: volume {source!r} not declared"


def test_every_variable_has_a_default_or_is_in_env_example(compose, env_example):
    used: list[tuple[str, bool]] = []
    for text in walk_strings(compose):
        interpolate(text, env_example, used)
    assert used, "no ${VAR} found: the scan is broken"
    missing = sorted({name for name, has_default in used if not has_default and name not in env_example})
    assert not missing, f"used without default and not in .env.example: {missing}"


def test_every_variable_is_documented_in_env_example(compose, env_example):
    # Stricter than the rule above: .env.example is the one list of knobs, defaults included.
    used: list[tuple[str, bool]] = []
    for text in walk_strings(compose):
        interpolate(text, {}, used)
    undocumented = sorted({name for name, _ in used} - set(env_example))
    assert not undocumented, f"add to .env.example: {undocumented}"


def test_compose_interpolates_without_any_env_file(compose):
    # `docker compose up` must work before anyone creates .env: nothing may be `:?` required.
    for text in walk_strings(compose):
        interpolate(text, {})


@pytest.mark.parametrize("dockerfile", ["docker/airflow.Dockerfile", "docker/devstack.Dockerfile"])
def test_dockerfile_copy_sources_exist_in_context(compose, dockerfile):
    built = dockerfiles(compose)
    path = (ROOT / dockerfile).resolve()
    assert path in built, f"{dockerfile} is not used by docker-compose.yaml"
    context = built[path]
    sources = copy_sources(path)
    assert sources, f"{dockerfile}: no COPY/ADD found"
    patterns = dockerignore_patterns(context)
    for source in sources:
        assert (context / source).exists(), f"{dockerfile}: COPY source {source} missing"
        assert not ignored(source, patterns), f"{dockerfile}: {source} is excluded by .dockerignore"


def test_copy_source_parser_sees_missing_files(tmp_path):
    # The parser itself: a missing source must be reported, --from stages skipped.
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM x AS a\nCOPY --from=a /x /y\nCOPY --chown=1:0 one.txt \\\n  two/ /dst/\n")
    assert copy_sources(dockerfile) == ["one.txt", "two/"]
    assert ignored("tests/unit", ["tests"]) and not ignored("dags/x.py", ["tests", "**/*.pyc"])


def test_airflow_image_requirements_are_pinned_by_the_lock():
    def name(line: str) -> str:
        return re.split(r"[\[=<>~! ;]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")

    lock = {name(line) for line in (ROOT / "requirements.lock").read_text().splitlines()
            if line and not line.startswith((" ", "#")) and "==" in line}
    wanted = [line for line in (ROOT / "docker/airflow-requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert wanted
    for line in wanted:
        assert "==" not in line, f"{line}: versions come from requirements.lock"
        assert name(line) in lock, f"{line} is not pinned in requirements.lock"


def test_worker_scales(compose):
    worker = compose["services"][WORKER]
    assert "container_name" not in worker, "a fixed container_name prevents --scale"
    for port in worker.get("ports") or []:
        published = port.get("published") if isinstance(port, dict) else (
            str(port).rsplit(":", 1)[0] if ":" in str(port) else None)
        assert not published, f"fixed host port {port} prevents --scale"
    assert "worker" in str(worker.get("command"))
    assert service_env(worker)["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_airflow_services_are_complete_and_share_one_configuration(compose):
    services = airflow_services(compose)
    commands = {str(svc.get("command")) for svc in services.values()}
    for needed in ("api-server", "scheduler", "dag-processor", "triggerer", "celery worker"):
        assert needed in commands, f"no Airflow service runs {needed}"
    assert "airflow-init" in services
    reference = {k: v for k, v in service_env(services["airflow-scheduler"]).items()
                 if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    for name, svc in services.items():
        env = service_env(svc)
        got = {k: v for k, v in env.items() if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
        assert got == reference, f"{name} sees different connections/variables"


def test_dags_plugins_sql_are_mounted_where_airflow_looks(compose):
    for name, svc in airflow_services(compose).items():
        mounts = {}
        for volume in svc.get("volumes") or []:
            source, target = volume.split(":")[:2]
            mounts[target] = source
        for folder in ("dags", "plugins", "sql"):
            target = f"/opt/airflow/{folder}"
            assert mounts.get(target) == f"./{folder}", f"{name}: ./{folder} not mounted at {target}"
        assert service_env(svc).get("SPARKIFY_SQL_DIR") == "/opt/airflow/sql"


def test_depends_on_conditions_are_satisfiable(compose):
    services = compose["services"]
    for name, svc in services.items():
        depends = svc.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {dep: {"condition": "service_started"} for dep in depends}
        for dep, spec in depends.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} healthy, no healthcheck"
            if condition == "service_completed_successfully":
                # A one-shot job: restarting it would make "completed" never final.
                assert services[dep].get("restart", "no") == "no", f"{dep} must not restart"
    assert services[WORKER]["depends_on"]["seed"]["condition"] == "service_completed_successfully"


def test_no_dependency_cycles(compose):
    services = compose["services"]
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "active", f"cycle: {' -> '.join([*path, name])}"
        state[name] = "active"
        for dep in services[name].get("depends_on") or {}:
            visit(dep, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def _connections(compose: dict, env: dict[str, str]) -> dict[str, dict]:
    raw = service_env(compose["services"]["airflow-scheduler"])
    return {
        key.removeprefix("AIRFLOW_CONN_").lower(): json.loads(interpolate(value, env))
        for key, value in raw.items()
        if key.startswith("AIRFLOW_CONN_")
    }


def test_connections_point_at_the_local_services(compose, env_example):
    services = compose["services"]
    for env in ({}, env_example):  # built-in defaults and the documented .env agree
        conns = _connections(compose, env)
        redshift, aws = conns["redshift_default"], conns["aws_default"]
        assert redshift["conn_type"] == "redshift" and redshift["extra"] == {"ssl": False}
        endpoint = services[redshift["host"]]
        assert f"--port={redshift['port']}" in endpoint["command"], "conn port != endpoint port"
        assert redshift["login"] and redshift["password"] and redshift["schema"]
        # The endpoint authenticates against redshift-db: the conn must carry the application
        # role's credentials (docker/redshift-db-init creates it), never the superuser's.
        backend = service_env(services["redshift-db"])
        assert (redshift["login"], redshift["password"], redshift["schema"]) == tuple(
            interpolate(backend[k], env) for k in ("SPARKIFY_APP_USER", "SPARKIFY_APP_PASSWORD", "SPARKIFY_APP_DB"))
        assert redshift["login"] != interpolate(backend["POSTGRES_USER"], env)
        # ... and checks the client's login itself, as --admin-user with PGPASSWORD (never a flag).
        command = [interpolate(part, env) for part in endpoint["command"]]
        assert f"--admin-user={redshift['login']}" in command
        assert interpolate(service_env(endpoint)["PGPASSWORD"], env) == redshift["password"]
        assert not any(redshift["password"] in part for part in command)
        # The keys live in the extra (masked in task logs), not in login/password (printed in clear).
        assert aws["conn_type"] == "aws" and "login" not in aws and "password" not in aws
        assert aws["extra"]["aws_access_key_id"] and aws["extra"]["aws_secret_access_key"]
        s3_host, s3_port = re.fullmatch(r"http://([\w-]+):(\d+)", aws["extra"]["endpoint_url"]).groups()
        assert s3_port in services[s3_host]["command"]
        assert aws["extra"]["region"] == aws["extra"]["region_name"]
        assert not aws["extra"].get("role_arn"), "locally COPY must send the dummy keys"
        # The task-log connection reaches the same S3 with the same keys, in its extra, and no role.
        logs = conns["aws_task_logs"]
        assert logs["extra"]["endpoint_url"] == aws["extra"]["endpoint_url"] and "role_arn" not in logs["extra"]
        assert logs["extra"]["aws_secret_access_key"] == aws["extra"]["aws_secret_access_key"]


def test_real_aws_example_yields_valid_connections(compose, env_example):
    # The commented real-AWS block of .env.example, applied over the local values.
    real = {**env_example, **parse_dotenv(ENV_EXAMPLE.read_text(), commented=True)}
    assert real["REDSHIFT_HOST"] != env_example["REDSHIFT_HOST"], "real-AWS example not found"
    conns = _connections(compose, real)
    assert conns["aws_default"]["extra"]["endpoint_url"] is None
    assert conns["aws_default"]["extra"]["role_arn"].startswith("arn:aws:iam::")
    assert conns["redshift_default"]["extra"] == {"ssl": True}
    assert conns["redshift_default"]["host"].endswith(".redshift.amazonaws.com")


def test_compose_provides_what_the_dag_reads(compose):
    assert list((ROOT / "dags").rglob("*.py")), "no DAG file under dags/: nothing to compare with"
    variables, connections = dag_reads()
    assert variables or connections, "found no Variable/connection reads under dags/: scan broken or DAG missing"
    for name, svc in airflow_services(compose).items():
        env = service_env(svc)
        provided_vars = {k.removeprefix("AIRFLOW_VAR_").lower() for k in env if k.startswith("AIRFLOW_VAR_")}
        provided_conns = {k.removeprefix("AIRFLOW_CONN_").lower() for k in env if k.startswith("AIRFLOW_CONN_")}
        assert not {v.lower() for v in variables} - provided_vars, f"{name}: variables missing"
        assert not {c.lower() for c in connections} - provided_conns, f"{name}: connections missing"


def test_dag_scan_patterns_find_the_usual_forms():
    sample = (
        "bucket = Variable.get('sparkify_s3_bucket', default_var='x')\n"
        "s3_key='{{ var.value.sparkify_log_prefix }}/x'\n"
        "p = \"{{ var.value.get('sparkify_song_prefix', 'song_data') }}\"\n"
        "def __init__(self, *, redshift_conn_id: str = 'redshift_default', aws_conn_id='aws_default'):\n"
        "REDSHIFT_CONN_ID = \"redshift_default\"\n"
        "JSONPATH_VARIABLE: str = 'sparkify_log_jsonpath'\n"
    )
    found_vars = {m for p in _VARIABLE_PATTERNS for m in p.findall(sample) if m != "get"}
    assert found_vars == {"sparkify_s3_bucket", "sparkify_log_prefix", "sparkify_song_prefix",
                          "sparkify_log_jsonpath"}
    assert set(_CONN_PATTERN.findall(sample)) == {"redshift_default", "aws_default"}


def test_interpolation_helper():
    env = {"A": "a", "EMPTY": ""}
    assert interpolate("${A}-${B:-b}-${EMPTY:-e}-${EMPTY-e}-$$A", env) == "a-b-e--$A"
    assert interpolate("${X:-${A:-z}}", env) == "a"
    with pytest.raises(KeyError):
        interpolate("${B:?required}", env)


def test_published_ports_bind_loopback_unless_asked(compose, env_example):
    published = {name: svc["ports"] for name, svc in compose["services"].items() if svc.get("ports")}
    assert {"airflow-apiserver", "redshift", "s3", "flower"} <= set(published)
    for env in ({}, env_example):
        for name, ports in published.items():
            for port in ports:
                assert interpolate(port, env).startswith("127.0.0.1:"), f"{name}: {port} binds beyond loopback"
    # One variable publishes them all wider.
    for ports in published.values():
        assert all(interpolate(port, {"SPARKIFY_PUBLISH_ADDRESS": "0.0.0.0"}).startswith("0.0.0.0:") for port in ports)


def test_built_images_are_named_by_compose_project(compose):
    # A fixed `image:` tag would be shared (and overwritten) by every checkout on the engine.
    for name, svc in compose["services"].items():
        if svc.get("build"):
            assert "image" not in svc, f"{name}: a built image with a global tag {svc['image']!r}"


def test_worker_count_restart_and_lost_worker_timers(compose, env_example):
    worker = compose["services"][WORKER]
    for env in ({}, env_example):
        assert int(interpolate(str(worker["deploy"]["replicas"]), env)) >= 2
    assert worker["restart"] == "always"
    env = service_env(worker)
    # A dead worker's task is failed and retried after this: about a minute, not Airflow's 300 s.
    assert int(interpolate(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"], {})) <= 60
    assert int(interpolate(env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"], {})) < 600


def test_fernet_key_comes_from_the_config_volume(compose):
    for name, svc in airflow_services(compose).items():
        env = service_env(svc)
        assert "AIRFLOW__CORE__FERNET_KEY" not in env, f"{name}: a literal Fernet key overrides the _CMD"
        assert env["AIRFLOW__CORE__FERNET_KEY_CMD"] == "cat /opt/airflow/config/fernet.key"
        assert "airflow-config:/opt/airflow/config" in svc["volumes"]
    init = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "Fernet.generate_key()" in init and "fernet.key" in init


def test_airflow_init_refuses_root_and_warns_like_upstream(compose):
    init = "\n".join(compose["services"]["airflow-init"]["command"])
    for needed in ('"${AIRFLOW_UID:-50000}" == 0', "exit 1", "AIRFLOW_UID not set", "Not enough memory",
                   "Not enough CPUS", "Not enough Disk space"):
        assert needed in init, needed


def test_warehouse_role_is_created_without_superuser(compose):
    db = compose["services"]["redshift-db"]
    assert "./docker/redshift-db-init:/docker-entrypoint-initdb.d:ro" in db["volumes"]
    script = (ROOT / "docker/redshift-db-init/10-app-role.sh").read_text()
    assert re.search(r"CREATE ROLE :\"app_user\" LOGIN NOSUPERUSER .*NOCREATEROLE", script)
    assert 'CREATE DATABASE :"app_db" OWNER :"app_user"' in script
    assert service_env(db)["POSTGRES_USER"] == "postgres"


def test_no_nested_variable_defaults():
    # docker-compose 1.29 (Compose v1, still the only Compose on some machines) does not expand
    # ${A:-${B}}: the inner text reached the containers verbatim and the login failed.
    nested = re.findall(r"\$\{[^}]*\$\{", COMPOSE_FILE.read_text())
    assert not nested, f"nested defaults: {nested}"


def test_local_images_env_maps_compose_variables_to_built_stand_ins(compose):
    # Every stand-in tag that docker/local-images.env hands to Compose is one build-images.sh
    # makes, and every variable in it is one the compose file actually reads.
    local = parse_dotenv((ROOT / "docker/local-images.env").read_text())
    script = (ROOT / "docker/base/build-images.sh").read_text()
    used: list[tuple[str, bool]] = []
    for text in walk_strings(compose):
        interpolate(text, {}, used)
    assert set(local) <= {name for name, _ in used}
    for variable, tag in local.items():
        assert f"={tag}\n" in script, f"{variable}={tag} is not built by build-images.sh"
    assert not [line for path in (ROOT / "docker").rglob("*Dockerfile")
                for line in path.read_text().splitlines() if line.startswith("# syntax=")], \
        "a `# syntax=` line makes the build pull its frontend from a registry"


def test_task_logs_go_to_their_own_bucket_which_seed_creates(compose):
    """Remote logging in every Airflow service, into the bucket `seed` creates on the local S3 (not
    the data bucket); workers keep their logs to themselves (no shared log volume)."""
    seed = compose["services"]["seed"]
    bucket = service_env(seed)["SPARKIFY_TASK_LOG_BUCKET"]
    assert "python -m devstack.task_logs" in seed["command"][-1] and "SPARKIFY_TASK_LOG_BUCKET" in seed["command"][-1]
    for name, svc in airflow_services(compose).items():
        env = service_env(svc)
        assert env["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "true", name
        folder = env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"]
        assert folder == f"s3://{bucket}/task-logs", name
        assert bucket != env["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"], name
        assert env["AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID"] == "aws_task_logs", name
        assert "AIRFLOW_CONN_AWS_TASK_LOGS" in env, name
        assert env["AIRFLOW__LOGGING__ENCRYPT_S3_LOGS"] == "true", name
    worker_mounts = [volume.split(":")[1] for volume in compose["services"][WORKER]["volumes"]]
    assert "/opt/airflow/logs" not in worker_mounts


def test_alerts_connection_reaches_the_mail_sink(compose, env_example):
    """The notifier's smtp connection points at the `mail` service's port, in plain SMTP (the
    sink has no TLS), and the sink keeps its messages on a named volume."""
    mail = compose["services"]["mail"]
    command = mail["command"]
    assert command[:3] == ["python", "-m", "devstack.mailsink"]  # the sink `make airflow` runs too
    listen = f"{command[command.index('--host') + 1]}:{command[command.index('--port') + 1]}"
    assert "ports" not in mail, "the sink is for the Airflow containers only"
    for env in ({}, env_example):
        alerts = _connections(compose, env)["sparkify_alerts"]
        assert alerts["conn_type"] == "smtp" and alerts["host"] == "mail"
        assert listen == f"0.0.0.0:{alerts['port']}"
        assert alerts["extra"]["disable_ssl"] is True and alerts["extra"]["disable_tls"] is True
        assert alerts["extra"]["from_email"] and alerts["extra"]["to"]
    folder = command[command.index("--folder") + 1]
    assert f"mail-volume:{folder}" in mail["volumes"]
    assert compose["services"][WORKER]["depends_on"]["mail"] == {"condition": "service_healthy"}
