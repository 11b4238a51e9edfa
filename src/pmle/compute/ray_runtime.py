"""Ray as a compute backend: importing it with a clear error, and a session that either joins a
cluster or starts a small local Ray, and shuts down only what it started.

```python
with ray_session("batch prediction with runner='ray'") as ray:
    ...  # ray.data / ray.serve calls
```
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from types import ModuleType

from pmle.errors import InvalidInput, ServerUnavailable

RAY_HINT = "pip install 'pmle[ray]'"

#: Object store size of a local Ray started by pmle. Ray's default is 30 % of the RAM; pmle's
#: Ray work streams bounded chunks, so a small store (spilling to disk if ever full) suffices.
LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2


def import_ray(what: str) -> ModuleType:
    """The `ray` module; InvalidInput naming `what` needed it when Ray is not installed."""
    try:
        import ray
    except ImportError:
        raise InvalidInput(f"{what} needs Ray, which is not installed", hint=RAY_HINT)
    return ray


@contextlib.contextmanager
def ray_session(
    what: str,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    object_store_bytes: int = LOCAL_OBJECT_STORE_BYTES,
) -> Iterator[ModuleType]:
    """Ray, initialized for the block.

    A session the caller already started (a notebook, a test) is used as it is and left running.
    Otherwise pmle joins `address` (or `$RAY_ADDRESS`; `ray://…` for Ray Client) or starts a
    local Ray with `num_cpus` (default: every core) and a small object store, and shuts it down
    after the block."""
    ray = import_ray(what)
    if ray.is_initialized():
        yield ray
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    # No dashboard: pmle runs Ray as a library, and the dashboard costs a process and a port.
    common = {"include_dashboard": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **common)
        else:
            ray.init(
                num_cpus=num_cpus or os.cpu_count() or 1,
                object_store_memory=object_store_bytes,
                **common,
            )
    except (ConnectionError, TimeoutError) as exc:
        raise ServerUnavailable(
            f"cannot reach the Ray cluster at {address}: {exc}".splitlines()[0],
            hint="start one with `ray start --head`, or check the address",
        )
    try:
        yield ray
    finally:
        ray.shutdown()


__all__ = ["LOCAL_OBJECT_STORE_BYTES", "RAY_HINT", "import_ray", "ray_session"]
