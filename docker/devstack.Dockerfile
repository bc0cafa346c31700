# syntax=docker/dockerfile:1
# The local stand-ins in one image (build context: repo root): the Redshift endpoint
# (`python -m devstack.endpoint`), local S3 (`python -m moto.server`) and the one-shot seed job
# (`python -m devstack generate` / `seed`).
#
# It installs the whole requirements.lock rather than a hand-picked subset: the devstack CLI may
# import anything the venv has (rich, boto3, moto, psycopg, ...), and moto then runs at the exact
# version the integration tests use. Cost: a larger image (~700 MB), built once.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app
COPY requirements.lock /app/requirements.lock
# uv at the same version as the Makefile: ~6x faster than pip on the full lock.
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv pip install --system --no-cache -r /app/requirements.lock

COPY devstack/ /app/devstack/

# Nothing here needs root; the seed job writes its generated files under /tmp.
RUN useradd --create-home --uid 10001 devstack
USER devstack
