"""Read several sequential sources at once; hand their items out source by source.

Historic JOA months are independent of each other, but the pages of one month come one
after another (each page's ``next`` link names the following one). ``ReadAhead`` runs up
to ``workers`` months at a time, each in its own thread, and gives the stream their pages
in month order. So the stream, and the state it writes after each month, see exactly what
a one-at-a-time read would show them: a month counts as read only once all of its rows
have been handed on, and a run killed half-way has written no state for the months it
had fetched ahead.

Memory stays bounded: a worker waits before fetching another page while ``budget`` pages
are waiting to be read, unless it is on the month being read and that month has none
waiting (so the reader can always go on). At most ``budget + workers + 1`` pages are held.
"""

from __future__ import annotations

import threading
import typing as t
from collections import deque

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

K = t.TypeVar("K")
T = t.TypeVar("T")


class ReadAhead(t.Generic[K, T]):
    """Items of ``open_source(key)`` for each key, read ahead by ``workers`` threads."""

    def __init__(
        self,
        keys: Sequence[K],
        open_source: Callable[[K], Iterator[T]],
        *,
        workers: int,
        budget: int,
        name: str,
    ) -> None:
        """Start reading ``keys`` in order, ``workers`` at a time."""
        self._keys = list(keys)
        self._open = open_source
        self._budget = max(1, budget)
        self._queues: list[deque[T]] = [deque() for _ in self._keys]
        self._finished = [False] * len(self._keys)
        self._errors: dict[int, BaseException] = {}
        self._buffered = 0
        self._current = 0  # the source the reader is on
        self._next = 0  # the next source a worker takes up
        self._stopped = False
        self._changed = threading.Condition()
        # Daemon threads: a run that fails elsewhere must not wait for them to exit.
        for number in range(min(max(1, workers), len(self._keys))):
            threading.Thread(target=self._work, name=f"{name}-{number}", daemon=True).start()

    def items(self, key: K) -> Iterator[T]:
        """The items of ``key``'s source, which must be the next one not yet read."""
        index = self._current
        if index >= len(self._keys) or self._keys[index] != key:
            msg = f"{key!r} was asked for out of order; the next to read is {index}"
            raise RuntimeError(msg)
        try:
            while (item := self._take(index)) is not _END:
                yield t.cast("T", item)
        except BaseException:
            self.close()  # an error, or a reader that stopped early: stop fetching
            raise

    def _take(self, index: int) -> object:
        """The next item of source ``index``, or ``_END``; its error, if it failed."""
        queue = self._queues[index]
        with self._changed:
            self._changed.wait_for(lambda: bool(queue) or self._finished[index])
            if queue:
                self._buffered -= 1
                self._changed.notify_all()
                return queue.popleft()
            if index in self._errors:
                raise self._errors[index]
            self._current += 1
            self._changed.notify_all()
            return _END

    def close(self) -> None:
        """Stop every worker at its next page; items already fetched are dropped."""
        with self._changed:
            self._stopped = True
            for queue in self._queues:
                queue.clear()
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            with self._changed:
                if self._stopped or self._next >= len(self._keys):
                    return
                index = self._next
                self._next += 1
            try:
                self._read(index)
            except BaseException as exc:  # noqa: BLE001  # handed to the reader, raised there
                with self._changed:
                    self._errors[index] = exc
            with self._changed:
                self._finished[index] = True
                self._changed.notify_all()

    def _read(self, index: int) -> None:
        source = self._open(self._keys[index])
        queue = self._queues[index]
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._stopped
                    or self._buffered < self._budget
                    or (index == self._current and not queue)
                )
                if self._stopped:
                    return
            item = next(source, _END)  # the fetch itself, outside the lock
            if item is _END:
                return
            with self._changed:
                if self._stopped:
                    return
                queue.append(t.cast("T", item))
                self._buffered += 1
                self._changed.notify_all()


_END = object()
