"""Telling a bad tracking URI apart in seconds, before anything is created.

MLflow accepts any string as a tracking URI and fails on first use: an unknown scheme with a long
traceback, and an HTTP server that is down only after about seven retries with exponential backoff
(minutes, with no output). :func:`check_tracking_uri` refuses a malformed URI at once and probes an HTTP
server's ``/health`` with a short timeout (once per process and URI); for HTTP stores it also lowers
MLflow's own retries (``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``_TIMEOUT``, unless they are set) so a server
that goes away later fails a request in seconds too.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 3.0
KNOWN_SCHEMES = ("sqlite", "http", "https", "file", "postgresql", "mysql", "mssql", "databricks", "databricks-uc",
                 "uc")
_CHECKED: set[str] = set()
_HINT = ("use sqlite:///<absolute path>/mlflow.db or http://<host>:<port>, or unset MLFLOW_TRACKING_URI for the "
         "default store")


def _probe(uri: str) -> None:
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S):  # noqa: S310 - http(s) only, checked above
            return
    except urllib.error.HTTPError:
        return  # it answered: a server is there (an auth proxy may refuse /health)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ValueError(f"MLflow tracking server {uri} is not reachable ({reason}; waited at most "
                         f"{PROBE_TIMEOUT_S:g} s): start it (`mlflow server --host 127.0.0.1 --port <port>`) or "
                         f"point MLFLOW_TRACKING_URI at a running one — {_HINT}") from exc


def check_tracking_uri(uri: str) -> None:
    """Raise one ``ValueError`` naming ``uri`` when it is malformed or (HTTP) no server answers."""
    if uri in _CHECKED:
        return
    if not isinstance(uri, str) or not uri.strip() or any(c.isspace() for c in uri.strip()):
        raise ValueError(f"Tracking URI {uri!r} is malformed (empty or with spaces): {_HINT}.")
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme and scheme not in KNOWN_SCHEMES:  # no scheme: a folder, MLflow's own file store
        raise ValueError(f"Tracking URI {uri!r} has an unknown scheme {scheme!r}: {_HINT}.")
    if scheme == "sqlite":
        path = uri[len("sqlite:///"):].split("?", 1)[0] if uri.startswith("sqlite:///") else ""
        if not path:
            raise ValueError(f"Tracking URI {uri!r} names no database file (sqlite needs three slashes then a "
                             f"path): {_HINT}.")
        folder = os.path.dirname(os.path.abspath(path)) if path != ":memory:" else ""
        if folder and os.path.exists(folder) and not os.path.isdir(folder):
            raise ValueError(f"Tracking URI {uri!r}: {folder} is a file, not a folder for the database: {_HINT}.")
    elif scheme in ("http", "https"):
        try:
            port_ok = parsed.port is None or 0 < parsed.port < 65536
        except ValueError:
            port_ok = False
        if not parsed.hostname or not port_ok:
            raise ValueError(f"Tracking URI {uri!r} has no valid host and port: {_HINT}.")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        _probe(uri)
    _CHECKED.add(uri)
