"""The Redis online store (`[features] online_store = "redis://host:port/db"`).

Layout: one Redis hash per feature view, `pmle:fv:{view}`, field = entity key, value =
`{ts}|{data}` (the event time as Python's shortest round-trip float text, then the JSON bytes;
the time never holds `|`, so the first one splits the value). One hash per view rather than
one key per entity because it makes every operation one command: a read of any number of
keys is one HMGET, `count` is HLEN (exact, O(1), no side counter to drift), `drop` is UNLINK
(freed in the background), and it costs less memory per entity than a top-level key.
(All of a view then lives on one node; pmle talks to a single Redis, not a Redis Cluster.)

Writes are newer-wins and atomic per batch of 2,000 records: a Lua script reads the stored
values with one HMGET, keeps the records whose time is not older (an equal time overwrites,
as in SQLite) and writes them with one HSET. The batches of a write go in pipelines of
EVALSHA calls, so hundreds of thousands of records cost a few round trips.

Two workspaces pointed at the same Redis database share its `pmle:fv:*` keys: give each its
own database number (`redis://host:6379/1`).
"""

from __future__ import annotations

import contextlib
import math
import struct
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from pmle.errors import InvalidInput, StoreUnavailable

if TYPE_CHECKING:
    from redis import Redis

    from pmle.features.online import Record

__all__ = ["RedisOnlineStore", "redacted_url"]

PREFIX = "pmle:fv:"
#: Records per script call: long enough to amortise the call, short enough that one call
#: blocks Redis (single-threaded) for about a millisecond. Its HSET takes 2 arguments per
#: record, well under the 8,000 values Redis's Lua can unpack into one call.
SCRIPT_BATCH = 2000
#: Script calls per pipeline round trip.
PIPELINE_CALLS = 25
HINT = (
    "start Redis, or fix the online store URL ([features] online_store in "
    ".pmle/config.toml, or PMLE_ONLINE_STORE_URL); empty means SQLite in the workspace"
)

# ARGV[1]: a MessagePack array key1, value1, key2, value2, ... (one argument rather than
# thousands: redis-py packs each argument in Python, which cost more than Redis's work).
# One HMGET for the stored values, one HSET for the winners; records apply in order, so a
# later record of a key in the same batch is compared with the earlier one. Returns how many
# records were written.
_WRITE_NEWER = """
local h = KEYS[1]
local rec = cmsgpack.unpack(ARGV[1])
local keys = {}
for i = 1, #rec, 2 do keys[#keys + 1] = rec[i] end
local old = redis.call('HMGET', h, unpack(keys))
local function ts(v) return tonumber(string.sub(v, 1, string.find(v, '|', 1, true) - 1)) end
local seen, out, n = {}, {}, 0
for j = 1, #keys do
  local k, v = keys[j], rec[2 * j]
  local cur = seen[k]
  if cur == nil then cur = old[j] end
  if not cur or ts(v) >= ts(cur) then
    seen[k] = v
    out[#out + 1] = k
    out[#out + 1] = v
    n = n + 1
  else
    seen[k] = cur
  end
end
if n > 0 then redis.call('HSET', h, unpack(out)) end
return n
"""
_STR32 = struct.Struct(">BI")


def redacted_url(url: str) -> str:
    """`url` without its password (in the user info or a `password=` query parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        name = user.split(":", 1)[0]
        netloc = f"{name}@{host}" if name else host
    query = parts.query
    if query:
        query = urlencode([(k, v) for k, v in parse_qsl(query) if k != "password"])
    out = f"{parts.scheme}://{netloc}{parts.path}"
    if query:
        out += "?" + query
    if parts.fragment:
        out += "#" + parts.fragment
    return out


def _redis() -> Any:
    try:
        import redis
    except ImportError:
        raise InvalidInput(
            "the Redis online store needs the redis package, which is not installed",
            hint="pip install 'pmle[redis]'",
        )
    return redis


def _pack(records: Sequence[Record]) -> bytes:
    """Records as a MessagePack array of byte strings: key, `{ts}|{data}`, key, …"""
    head = _STR32.pack
    parts = [b"\xdd" + (2 * len(records)).to_bytes(4, "big")]  # array 32
    for entity, ts, data in records:
        if not math.isfinite(ts):
            raise InvalidInput(
                f"bad event time {ts!r} for entity {entity!r}", hint="use a finite time"
            )
        key = entity.encode()
        # repr: the shortest text that parses back to the same float, in Python and in Lua
        value = b"%s|%s" % (repr(float(ts)).encode(), data)
        parts += (head(0xDB, len(key)), key, head(0xDB, len(value)), value)  # str 32
    return b"".join(parts)


def _decode(value: bytes | None) -> tuple[float, bytes] | None:
    if value is None:
        return None
    cut = value.index(b"|")
    return float(value[:cut]), value[cut + 1 :]


class RedisOnlineStore:
    """Online features in Redis: one hash per feature view, newer-wins writes by Lua script."""

    def __init__(self, url: str) -> None:
        self.url = redacted_url(url)
        self._redis = redis = _redis()
        try:
            # URL options (e.g. ?socket_connect_timeout=) override these defaults.
            self._client: Redis = redis.Redis.from_url(url, socket_connect_timeout=5)
        except ValueError as exc:
            raise InvalidInput(
                f"bad Redis URL {self.url!r}: {exc}",
                hint="use redis://[user:password@]host:port/db, rediss://… or unix:///path",
            ) from None
        self._sha: str | None = None

    @contextlib.contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        redis = self._redis
        try:
            yield
        except redis.AuthenticationError as exc:
            raise StoreUnavailable(
                f"Redis online store {self.url} refused the credentials while {doing}: {exc}",
                hint="put the right user and password in the URL (redis://user:pass@host/db)",
            ) from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(
                f"cannot reach the Redis online store {self.url} while {doing}: {exc}",
                hint=HINT,
            ) from None
        except redis.RedisError as exc:
            raise StoreUnavailable(
                f"the Redis online store {self.url} failed while {doing}: {exc}",
                hint="check the Redis server's log and that nothing else uses pmle:fv:* keys",
            ) from None

    @staticmethod
    def _key(view: str) -> str:
        return PREFIX + view

    def write(self, view: str, records: Sequence[Record]) -> int:
        """Store records, newer wins; returns how many were written."""
        if not records:
            return 0
        key = self._key(view)
        blobs = [
            _pack(records[start : start + SCRIPT_BATCH])
            for start in range(0, len(records), SCRIPT_BATCH)
        ]
        written = 0
        with self._translate(f"writing feature view {view!r}"):
            if self._sha is None:
                self._sha = str(self._client.script_load(_WRITE_NEWER))
            for start in range(0, len(blobs), PIPELINE_CALLS):
                todo = blobs[start : start + PIPELINE_CALLS]
                while todo:
                    pipe = self._client.pipeline(transaction=False)
                    for blob in todo:
                        pipe.evalsha(self._sha, 1, key, blob)
                    results = pipe.execute(raise_on_error=False)
                    # A Redis restarted (or SCRIPT FLUSHed) mid-way forgets the script: load it
                    # again and redo only the batches it refused (they wrote nothing).
                    again = []
                    for blob, result in zip(todo, results, strict=True):
                        if isinstance(result, self._redis.exceptions.NoScriptError):
                            again.append(blob)
                        elif isinstance(result, BaseException):
                            raise result
                        else:
                            written += int(result)
                    if again:
                        self._sha = str(self._client.script_load(_WRITE_NEWER))
                    todo = again
        return written

    def read(self, view: str, keys: Sequence[str]) -> list[tuple[float, bytes] | None]:
        """The record of each key (None where there is none), in the order asked."""
        if not keys:
            return []
        with self._translate(f"reading feature view {view!r}"):
            if len(keys) == 1:
                return [_decode(cast("bytes | None", self._client.hget(self._key(view), keys[0])))]
            values = cast("list[bytes | None]", self._client.hmget(self._key(view), list(keys)))
        return [_decode(v) for v in values]

    def count(self, view: str) -> int:
        """How many entities a view holds."""
        with self._translate(f"counting feature view {view!r}"):
            return int(self._client.hlen(self._key(view)))

    def drop(self, view: str) -> None:
        """Forget a view's records (Redis frees them in the background)."""
        with self._translate(f"dropping feature view {view!r}"):
            self._client.unlink(self._key(view))

    def close(self) -> None:
        """Close the connections (a later call opens new ones)."""
        with self._translate("closing"):
            self._client.close()
