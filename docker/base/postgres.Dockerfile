# Stand-in for the official postgres image: Debian's PostgreSQL 15 on the imported bookworm base.
# Same interface: POSTGRES_USER/PASSWORD/DB/INITDB_ARGS/HOST_AUTH_METHOD, PGDATA, the data volume,
# `postgres` as the command, pg_isready for healthchecks. Differences: see docs/compose.md.
ARG BASE_IMAGE=sparkify-base/debian:bookworm
FROM ${BASE_IMAGE}
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" /var/run/postgresql /docker-entrypoint-initdb.d \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 700 "$PGDATA" && chmod 3777 /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
# As the official image: SIGINT is PostgreSQL's "fast" shutdown.
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
