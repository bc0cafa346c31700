# Stand-in for apache/airflow:3.3.2-python3.11, on the Python stand-in (Debian's python3.11 with
# requirements.lock and docker/base/celery.lock installed in /usr/local/venv).
# As the official image: user `airflow` (uid 50000, gid 0), AIRFLOW_HOME=/opt/airflow,
# AIRFLOW_VERSION, dumb-init + /entrypoint, curl for healthchecks; any other uid (group 0) gets an
# /etc/passwd entry from the entrypoint, which the group-writable /etc/passwd allows, as upstream.
# Differences: docs/compose.md.
ARG BASE_IMAGE=sparkify-base/python:3.11-bookworm
FROM ${BASE_IMAGE}
ENV AIRFLOW_VERSION=3.3.2 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW_USER_HOME_DIR=/home/airflow \
    AIRFLOW_UID=50000 \
    DUMB_INIT_SETSID=1
RUN useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --shell /bin/bash airflow \
    && mkdir -p /opt/airflow/dags /opt/airflow/logs /opt/airflow/plugins /opt/airflow/config \
    && chown -R airflow:0 /opt/airflow /home/airflow && chmod -R g+rwX /opt/airflow /home/airflow \
    && chmod g=u /etc/passwd
COPY airflow-entrypoint.sh /entrypoint
WORKDIR /opt/airflow
USER 50000
EXPOSE 8080
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]
CMD []
