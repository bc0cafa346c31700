# Airflow 3.3.2 extended with the project's pinned providers and drivers (build context: repo root).
#
# The -python3.11 tag is the same Airflow release as apache/airflow:3.3.2 on the interpreter
# requirements.lock was compiled for (`make lock` uses --python-version 3.11), so every pin resolves
# exactly as in the development venv. Without a registry, docker/local-images.env passes the local
# stand-in (docker/base/airflow.Dockerfile), where every pin is already installed: pip then only
# checks them (PIP_NO_INDEX is set there) and the step takes seconds.
# No `# syntax=` line: that would make BuildKit pull its frontend image from a registry.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# The image brings its own constraint set; installing the full lock over it would churn hundreds of
# packages. Instead install only our direct needs with the lock as *constraints* (pins without
# forcing extras), and pin apache-airflow to the image's own version (AIRFLOW_VERSION is set by the
# base image) so pip can never up- or downgrade Airflow itself. A lock that disagrees fails the build.
COPY requirements.lock docker/airflow-requirements.txt /tmp/sparkify/
RUN pip install --no-cache-dir \
        "apache-airflow==${AIRFLOW_VERSION}" \
        -c /tmp/sparkify/requirements.lock \
        -r /tmp/sparkify/airflow-requirements.txt

# Bake the code in so the image also runs without bind mounts (e.g. against real AWS on a server);
# docker-compose.yaml mounts the working tree over these paths for live editing.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 sql/ /opt/airflow/sql/
# The DAG looks for sql/ next to dags/ or here.
ENV SPARKIFY_SQL_DIR=/opt/airflow/sql
