"""Shards split the queries so that together they cover each exactly once."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest
from conftest import search_requests, sync
from singer_sdk.exceptions import ConfigValidationError

from tap_usajobs.sharding import partitions_for_shard, shard_of
from tap_usajobs.tap import TapUsaJobs

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_usajobs.testing.fake_api import FakeUsaJobsServer

KEYWORDS = ["data engineering", "data", "nurse", "analyst", "police", "budget", "engineer"]


@pytest.mark.parametrize("shard_count", [1, 2, 3, 5, 8])
def test_every_partition_belongs_to_exactly_one_shard(shard_count: int) -> None:
    partitions = [{"keyword": f"k{n}"} for n in range(200)]

    shares = [partitions_for_shard(partitions, index, shard_count) for index in range(shard_count)]

    flat = list(itertools.chain.from_iterable(shares))
    assert sorted(p["keyword"] for p in flat) == sorted(p["keyword"] for p in partitions)
    if shard_count > 1:
        assert all(shares), "200 partitions should give every shard some work"


def test_a_partition_keeps_its_shard_when_others_come_and_go() -> None:
    before = {p["keyword"]: shard_of(p, 4) for p in ({"keyword": k} for k in KEYWORDS)}
    more = [{"keyword": k} for k in [*KEYWORDS[2:], "added-1", "added-2"]]

    after = {p["keyword"]: shard_of(p, 4) for p in more}

    assert all(after[k] == before[k] for k in KEYWORDS[2:])


def test_shards_together_sync_what_one_task_syncs_without_overlap(
    fake_api: FakeUsaJobsServer,
    tap_config: Callable[..., dict[str, Any]],
) -> None:
    whole = sync(tap_config(keywords=KEYWORDS))
    single_queries = {r["params"]["Keyword"] for r in search_requests(fake_api)}

    shard_records: list[set[str]] = []
    shard_queries: list[set[str]] = []
    for index in range(3):
        seen_before = len(search_requests(fake_api))
        result = sync(tap_config(keywords=KEYWORDS, shard_count=3, shard_index=index))
        shard_records.append(set(result.ids))
        requests = search_requests(fake_api)[seen_before:]
        shard_queries.append({r["params"]["Keyword"] for r in requests})

    assert set.union(*shard_queries) == single_queries == set(KEYWORDS)
    for left, right in itertools.combinations(shard_queries, 2):
        assert not left & right, "a query was run by two shards"
    assert set.union(*shard_records) == set(whole.ids)


def test_shard_index_must_be_below_shard_count(tap_config: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapUsaJobs(config=tap_config(shard_count=2, shard_index=2))

    assert "shard_index must be less than shard_count" in " ".join(caught.value.errors)


def test_a_shard_without_queries_makes_no_request(
    fake_api: FakeUsaJobsServer,
    tap_config: Callable[..., dict[str, Any]],
) -> None:
    keyword = "data engineering"
    idle = next(i for i in range(4) if i != shard_of({"keyword": keyword}, 4))

    result = sync(tap_config(keywords=[keyword], shard_count=4, shard_index=idle))

    assert result.ids == []
    assert search_requests(fake_api) == []
