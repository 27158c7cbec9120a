"""kv_redis: plain string keys `<namespace>:<key>` plus one lexicographic sorted-set index for range reads.

llama-stack scans with a prefix pattern, includes the end key and forgets to strip the namespace; here a
lexicographic sorted set gives exact half-open ranges. Writes that touch a key and the index run as one
MULTI/EXEC or Lua script, so the index never disagrees with the data for longer than an expiry.
"""

from __future__ import annotations

import re
import threading

import redis

from apps.storage.kv.base import BaseKVStore, Batch, wrap_driver_errors

_SET_IF_ABSENT = """
local ok
if ARGV[2] ~= '' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2])
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
end
if ok then redis.call('ZADD', KEYS[2], 0, KEYS[1]) return 1 end
return 0
"""

_WRITE_BATCH = """
local na, np, ns, nd, nr, nv = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6])
local b = 6
for i = 1, na do
  if redis.call('EXISTS', KEYS[1 + i]) == 1 then return 0 end
end
for i = 1, np do
  if redis.call('EXISTS', KEYS[1 + na + i]) == 0 then return 0 end
end
for i = 1, nv do
  if redis.call('GET', KEYS[1 + na + np + ns + nd + i]) ~= ARGV[b + ns + 2 * nr + i] then return 0 end
end
for i = 1, nr do
  local lo, hi = ARGV[b + ns + 2 * i - 1], ARGV[b + ns + 2 * i]
  for _, k in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], lo, hi)) do redis.call('DEL', k) end
  redis.call('ZREMRANGEBYLEX', KEYS[1], lo, hi)
end
for i = 1, nd do
  local k = KEYS[1 + na + np + ns + i]
  redis.call('DEL', k)
  redis.call('ZREM', KEYS[1], k)
end
for i = 1, ns do
  local k = KEYS[1 + na + np + i]
  redis.call('SET', k, ARGV[b + i])
  redis.call('ZADD', KEYS[1], 0, k)
end
return 1
"""

_DELETE_RANGE = """
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2])
local n = 0
for _, k in ipairs(members) do n = n + redis.call('DEL', k) end
redis.call('ZREMRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2])
return n
"""


def _pxat(expiration) -> int:
    return int(expiration.timestamp() * 1000)


class RedisKVStore(BaseKVStore):
    backend_type = "kv_redis"
    driver_errors = (redis.RedisError,)

    def __init__(self, config, namespace) -> None:
        super().__init__(config, namespace)
        self._client: redis.Redis | None = None
        self._client_lock = threading.Lock()
        # One index of physical keys per Redis database: a namespace's range is a range of physical keys.
        self._index = "\x00kvindex"

    @property
    def location(self) -> str:
        return f"{self.config.host}:{self.config.port}/{self.config.db}"

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    client = redis.Redis(
                        host=self.config.host,
                        port=self.config.port,
                        db=self.config.db,
                        password=self.config.password,
                        decode_responses=True,
                        socket_timeout=10,
                        socket_connect_timeout=5,
                        health_check_interval=30,
                    )
                    self._scripts = {
                        "set_if_absent": client.register_script(_SET_IF_ABSENT),
                        "write_batch": client.register_script(_WRITE_BATCH),
                        "delete_range": client.register_script(_DELETE_RANGE),
                    }
                    self._bootstrap_index(client)
                    self._client = client
        return self._client

    def _bootstrap_index(self, client: redis.Redis) -> None:
        """Index keys written by llama-stack (which keeps no index) the first time a namespace is opened."""
        marker = "\x00kvindexed:" + (self.namespace or "")
        if not self.namespace or client.exists(marker):
            return
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._prefix) + "*"
        batch: list[str] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.zadd(self._index, dict.fromkeys(batch, 0))
                batch.clear()
        if batch:
            client.zadd(self._index, dict.fromkeys(batch, 0))
        client.set(marker, "1")

    @wrap_driver_errors
    def get(self, key):
        return self.client.get(self._physical(key))

    @wrap_driver_errors
    def set(self, key, value, expiration=None):
        self._check_entry(value, expiration)
        physical = self._physical(key)
        pipe = self.client.pipeline(transaction=True)
        if expiration is None:
            pipe.set(physical, value)
        else:
            pipe.set(physical, value, pxat=_pxat(expiration))
        pipe.zadd(self._index, {physical: 0})
        pipe.execute()

    @wrap_driver_errors
    def delete(self, key):
        physical = self._physical(key)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(physical)
        pipe.zrem(self._index, physical)
        pipe.execute()

    @wrap_driver_errors
    def items_in_range(self, start, end):
        lo, hi = self._physical(start), self._physical(end)
        if lo >= hi:
            return []
        members = self.client.zrangebylex(self._index, "[" + lo, "(" + hi)
        if not members:
            return []
        values = self.client.mget(members)
        out, gone = [], []
        for key, value in zip(members, values, strict=True):
            if value is None:
                gone.append(key)
            else:
                out.append((self._logical(key), value))
        if gone:  # expired keys leave their index entry behind; tidy it lazily
            self.client.zrem(self._index, *gone)
        return out

    @wrap_driver_errors
    def set_if_absent(self, key, value, expiration=None):
        self._check_entry(value, expiration)
        client = self.client
        args = [value, str(_pxat(expiration)) if expiration else ""]
        return bool(self._scripts["set_if_absent"](keys=[self._physical(key), self._index], args=args, client=client))

    def _lex_range(self, start: str, end: str) -> list[str]:
        """ZRANGEBYLEX bounds of [start, end); an empty range becomes one that selects nothing."""
        lo, hi = self._physical(start), self._physical(end)
        return ["[" + lo, "(" + hi] if lo < hi else ["(" + lo, "(" + lo]

    @wrap_driver_errors
    def _write_batch(self, batch: Batch) -> bool:
        client = self.client
        absent = [self._physical(k) for k in batch.require_absent]
        present = [self._physical(k) for k in batch.require_present]
        set_keys = [self._physical(k) for k in batch.sets]
        del_keys = [self._physical(k) for k in batch.deletes]
        bounds = [bound for start, end in batch.delete_ranges for bound in self._lex_range(start, end)]
        valued = [self._physical(k) for k in batch.require_values]
        counts = [len(absent), len(present), len(set_keys), len(del_keys), len(bounds) // 2, len(valued)]
        args = [*counts, *batch.sets.values(), *bounds, *batch.require_values.values()]
        keys = [self._index, *absent, *present, *set_keys, *del_keys, *valued]
        return bool(self._scripts["write_batch"](keys=keys, args=args, client=client))

    @wrap_driver_errors
    def delete_range(self, start, end):
        lo, hi = self._physical(start), self._physical(end)
        if lo >= hi:
            return 0
        client = self.client
        return int(self._scripts["delete_range"](keys=[self._index], args=["[" + lo, "(" + hi], client=client))

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
