"""Split query partitions across parallel tasks (e.g. Cloud Run Jobs tasks).

Each partition goes to the shard its content hashes to, so a partition always lands on
the same shard for a given shard count (and keeps its bookmark there), whatever other
partitions are added or removed. Together the shards cover every partition exactly once.
"""

from __future__ import annotations

import json
import typing as t
import zlib

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def shard_of(partition: Mapping[str, t.Any], shard_count: int) -> int:
    """The shard, in ``range(shard_count)``, that owns ``partition``."""
    canonical = json.dumps(partition, sort_keys=True, separators=(",", ":"), default=str)
    return zlib.crc32(canonical.encode()) % shard_count


def partitions_for_shard(
    partitions: Iterable[dict[str, t.Any]],
    shard_index: int,
    shard_count: int,
) -> list[dict[str, t.Any]]:
    """The partitions shard ``shard_index`` of ``shard_count`` must sync, in order."""
    return [p for p in partitions if shard_of(p, shard_count) == shard_index]
