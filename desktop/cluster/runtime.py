"""Joining a lab's Ray cluster, or starting a private one on this machine, contained: usage
statistics off (before Ray is imported, as Ray reads it at import), token authentication on,
no dashboard for a local instance, Ray Data's progress bars and chatter off (the scan has its
own progress display)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from desktop.errors import HomewardError

LOCAL = "local"  # --ray local: a private Ray instance on this machine, stopped with the command


class ClusterError(HomewardError):
    """The cluster cannot be used as asked (not installed, unreachable, refused)."""


def _import_ray():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Token authentication (Ray's own; the lab shares ~/.ray/auth_token or RAY_AUTH_TOKEN with
    # every node and workstation): without it anyone who reaches the cluster runs code on it.
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    try:
        import ray
    except ImportError as exc:
        raise ClusterError("Ray is not installed, so a scan cannot use a cluster.",
                           "on a Linux lab server: pip install 'homeward[cluster]' (or "
                           "`pip install -e '.[cluster]'` in a source checkout)") from exc
    return ray


@contextmanager
def connected(address: str) -> Iterator[object]:
    """Ray, initialised for this command: `local`, or a running cluster's head `HOST:PORT`.
    Disconnects (and stops a local instance) on the way out."""
    ray = _import_ray()
    options = {"log_to_driver": False, "logging_level": logging.WARNING,
               "namespace": "homeward"}
    try:
        if address == LOCAL:
            ray.init(address=LOCAL, include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"Cannot join the Ray cluster at {address}.",
                           f"{exc}; start it with `ray start --head` on a lab server, and give "
                           "that server's address (HOST:PORT) or `local`") from exc
    context = ray.data.DataContext.get_current()
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # after Ray Data set up its own
    context.enable_progress_bars = False
    context.execution_options.preserve_order = False  # results are committed as they come
    try:
        yield ray
    finally:
        ray.shutdown()
