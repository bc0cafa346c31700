"""What a conversion process runs: fetch one S3 object itself and convert it.

Why the worker fetches: the relay process then neither downloads the object nor pickles it
across to the worker (together about a third of the relay's CPU in a 1M-row load); only the
converted rows come back. Larger or compressed objects are streamed by the relay in chunks
(loader.py, s3stream.py), so no process holds a whole large object.
"""

from __future__ import annotations

from redshift_endpoint import s3source, s3stream
from redshift_endpoint.convert import UnitResult, convert_unit
from redshift_endpoint.load_spec import LoadSpec

_clients: dict[str | None, s3source.S3Clients] = {}   # per process, like the relay's own


def fetch_and_convert(endpoint_url: str | None, credentials: dict[str, str], region: str | None,
                      spec: LoadSpec, url: str, gz: str | None) -> UnitResult:
    clients = _clients.get(endpoint_url)
    if clients is None:
        clients = _clients[endpoint_url] = s3source.S3Clients(endpoint_url)
    data = s3source.get_bytes(clients.client(credentials, region), url)
    return convert_whole(spec, url, data, gz)


def convert_whole(spec: LoadSpec, url: str, data: bytes, gz: str | None) -> UnitResult:
    """One whole object; a line over the 4 MB record limit fails the COPY, as when it is streamed."""
    try:
        s3stream.check_lines(data, 1, spec.fmt == "json")
    except s3stream.RecordTooLarge as e:
        return UnitResult(fatal=f"{e} in '{url}'")
    return convert_unit(spec, url, data, 1, True, gz)
