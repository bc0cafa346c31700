"""Upload a dataset folder (bucket layout) to an S3 bucket: the local moto server or real S3.

Every file becomes the object at its relative path (`log_data/2018/11/...`, `song_data/A/A/A/...`,
`log_json_path.json`). Skipped: the generator's truth files (`truth*.json`, `truth_days/`),
documentation (`*.md`) and hidden files, so `../shared/sparkify-sample` loads as it is.

Uploads run on a thread pool: moto answers a PUT in ~5 ms, mostly waiting, and a boto3 client
is thread-safe.
"""

from __future__ import annotations

import mimetypes
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

DEFAULT_BUCKET = "sparkify-local"
WORKERS = 16


def bucket_from_env() -> str:
    return os.environ.get("SPARKIFY_S3_BUCKET") or DEFAULT_BUCKET


def is_data_file(relative: Path) -> bool:
    """True for the files that belong in the bucket."""
    parts = relative.parts
    if any(part.startswith(".") for part in parts):
        return False
    if parts[0].startswith("truth"):  # truth.json, truth_days/...
        return False
    return relative.suffix != ".md"


def dataset_files(src: Path) -> list[Path]:
    """Relative paths of the data files under `src`, sorted."""
    return sorted(
        path.relative_to(src) for path in src.rglob("*") if path.is_file() and is_data_file(path.relative_to(src))
    )


def s3_client(endpoint_url: str | None):
    session = boto3.Session()
    if endpoint_url and session.get_credentials() is None:
        # A local S3 server accepts any credentials: spare the user an `export` before `seed`.
        from devstack.s3server import DUMMY_CREDENTIALS

        session = boto3.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=session.region_name or DUMMY_CREDENTIALS["AWS_DEFAULT_REGION"],
        )
    # One connection per worker thread, plus a little headroom.
    return session.client("s3", endpoint_url=endpoint_url, config=Config(max_pool_connections=WORKERS + 4))


def ensure_bucket(client, bucket: str) -> bool:
    """Create `bucket` unless it exists; True when it was created."""
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    region = client.meta.region_name
    if region and region != "us-east-1":
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    else:
        client.create_bucket(Bucket=bucket)
    return True


def seed_bucket(src: Path, bucket: str, *, endpoint_url: str | None, progress: bool = True,
                only: str | None = None) -> int:
    """Upload every data file under `src` (or only those under the relative folder `only`) to
    `bucket`; returns the number of files uploaded."""
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {src}")
    files = [path for path in dataset_files(src) if only is None or path.parts[0] == only]
    client = s3_client(endpoint_url)
    ensure_bucket(client, bucket)

    def upload(relative: Path) -> int:
        body = (src / relative).read_bytes()
        content_type = mimetypes.guess_type(relative.name)[0] or "application/octet-stream"
        client.put_object(Bucket=bucket, Key=relative.as_posix(), Body=body, ContentType=content_type)
        return len(body)

    with (
        Progress(
            TextColumn("[bold]seed[/] s3://" + bucket),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not progress,
        ) as bar,
        ThreadPoolExecutor(max_workers=WORKERS) as pool,
    ):
        task = bar.add_task("upload", total=len(files))
        futures = [pool.submit(upload, relative) for relative in files]
        for future in as_completed(futures):
            future.result()  # re-raise the first failed upload
            bar.advance(task)
    return len(files)


def seed_summary(src: Path, bucket: str, *, endpoint_url: str | None, progress: bool = True) -> str:
    """Seed and describe what was done in one line."""
    started = time.perf_counter()
    count = seed_bucket(src, bucket, endpoint_url=endpoint_url, progress=progress)
    elapsed = time.perf_counter() - started
    where = endpoint_url or "AWS"
    return f"seeded {count} files from {src} into s3://{bucket} at {where} in {elapsed:.1f} s ({count / max(elapsed, 1e-9):,.0f} files/s)"
