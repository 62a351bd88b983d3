"""An in-memory ordered index of (value, username key) entries, for ListUsers.

Theory of operation: entries live in one Python list kept sorted by tuple order
(value first, then username key, both by code point), located with `bisect`. Every
operation costs O(log n) comparisons plus the entries it returns; only list
insertion and deletion move memory. Scans are keyset scans: they start strictly
after an `after` position, so a paginating caller never sees an entry twice even
when entries come and go between pages.

Strings sharing a prefix form one contiguous run in this order (any string that is
>= the prefix but does not start with it is greater than every string that does),
so a prefix scan bisects to the prefix itself and stops at the first value that no
longer starts with it. No sentinel "largest character" is needed, which would be
wrong for values containing U+10FFFF.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

__all__ = ["SortedIndex"]

Entry = tuple[str, str]


class SortedIndex:
    """A sorted set of `(value, username_key)` entries with keyset range scans."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: list[Entry] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"SortedIndex(<{len(self._entries)} entries>)"

    def _find(self, entry: Entry) -> int:
        i = bisect_left(self._entries, entry)
        return i if i < len(self._entries) and self._entries[i] == entry else -1

    def add(self, value: str, key: str) -> None:
        """Insert an entry; `ValueError` if it is already present (a store bug)."""
        entry = (value, key)
        if self._find(entry) >= 0:
            raise ValueError(f"entry already indexed: {entry!r}")
        insort(self._entries, entry)

    def remove(self, value: str, key: str) -> None:
        """Delete an entry; `KeyError` if it is absent, so the store notices its bugs."""
        i = self._find((value, key))
        if i < 0:
            raise KeyError((value, key))
        del self._entries[i]

    def scan(
        self,
        *,
        exact: str | None = None,
        prefix: str | None = None,
        after: Entry | None = None,
        limit: int,
    ) -> list[Entry]:
        """Up to `limit` entries in ascending order, strictly after `after`.

        Restricted to `value == exact`, or `value.startswith(prefix)`, or neither (all
        entries); giving both is a `ValueError`.
        """
        if exact is not None and prefix is not None:
            raise ValueError("scan takes at most one of exact and prefix")
        if limit < 0:
            raise ValueError("limit must not be negative")
        entries = self._entries
        # A 1-tuple sorts before every 2-tuple that starts with the same value.
        floor = exact if exact is not None else prefix
        start = bisect_left(entries, (floor,)) if floor is not None else 0
        if after is not None:
            start = max(start, bisect_right(entries, tuple(after)))
        out: list[Entry] = []
        for i in range(start, len(entries)):
            if len(out) >= limit:
                break
            entry = entries[i]
            # Matching entries are contiguous from `start`: the first miss ends the run.
            if exact is not None and entry[0] != exact:
                break
            if prefix is not None and not entry[0].startswith(prefix):
                break
            out.append(entry)
        return out

    def copy(self) -> SortedIndex:
        """An independent copy (one list copy, no re-sorting) for snapshots."""
        clone = SortedIndex()
        clone._entries = self._entries.copy()
        return clone
