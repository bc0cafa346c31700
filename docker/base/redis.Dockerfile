# Stand-in for the official redis image: Debian's redis-server 7.0 on the imported bookworm base.
# As the official image: data in /data, port 6379, protected mode off (the container network is
# the boundary), redis-cli available for healthchecks.
ARG BASE_IMAGE=sparkify-base/debian:bookworm
FROM ${BASE_IMAGE}
RUN mkdir -p /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
