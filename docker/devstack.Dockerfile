# The local stand-ins in one image (build context: repo root): the Redshift endpoint
# (`python -m redshift_endpoint`), local S3 (`python -m moto.server`) and the one-shot seed job
# (`python -m devstack generate` / `seed`).
#
# It installs the whole requirements.lock rather than a hand-picked subset: the devstack CLI may
# import anything the venv has (rich, boto3, moto, psycopg, ...), and moto then runs at the exact
# version the integration tests use. Cost: a larger image (~700 MB), built once.
# PYTHON_IMAGE: python:3.11-slim, or without a registry the local stand-in (docker/local-images.env)
# that already holds the locked packages, so the install below only checks them.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app
COPY requirements.lock /app/requirements.lock
# pip, not uv: it installs into whichever environment `python` is (the system site of
# python:3.11-slim, the venv of the stand-in) and resolves offline when everything is present.
RUN python -m pip install --no-cache-dir -r /app/requirements.lock

COPY devstack/ /app/devstack/
COPY redshift_endpoint/ /app/redshift_endpoint/

# Nothing here needs root; the seed job writes its generated files under /tmp.
RUN useradd --create-home --uid 10001 devstack
USER devstack
# The notification sink's mail folder: a named volume mounted here starts with this owner.
RUN mkdir -p /home/devstack/mail
