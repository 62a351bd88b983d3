"""SortedIndex agrees with a naive sorted-list model, and keyset pagination is exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from authflow.adapters.sorted_index import SortedIndex

# A small alphabet makes equal values and shared prefixes common; it includes the
# extremes of the code-point order (NUL, U+FFFF, U+10FFFF) and non-ASCII letters.
CHARS = st.sampled_from(["a", "b", "B", "é", "\x00", "\uffff", "\U0010ffff", "ß"])
TEXT = st.text(CHARS, max_size=4) | st.text(max_size=3)
ENTRY = st.tuples(TEXT, TEXT)


def model_scan(model, *, exact=None, prefix=None, after=None, limit):
    """The obviously-correct answer: filter and sort everything."""
    hits = sorted(
        e
        for e in model
        if (exact is None or e[0] == exact)
        and (prefix is None or e[0].startswith(prefix))
        and (after is None or e > after)
    )
    return hits[:limit]


def query():
    """(exact, prefix) pairs: neither, an exact value, or a prefix."""
    return st.one_of(
        st.just((None, None)),
        TEXT.map(lambda v: (v, None)),
        TEXT.map(lambda p: (None, p)),
    )


# -- examples -----------------------------------------------------------------------------


def test_empty_index():
    index = SortedIndex()
    assert len(index) == 0
    assert index.scan(limit=10) == []
    assert index.scan(prefix="", limit=10) == []


def test_scan_orders_by_value_then_key():
    index = SortedIndex()
    for value, key in [("b", "2"), ("a", "9"), ("b", "1"), ("ab", "0"), ("", "x")]:
        index.add(value, key)
    assert index.scan(limit=10) == [("", "x"), ("a", "9"), ("ab", "0"), ("b", "1"), ("b", "2")]
    assert index.scan(exact="b", limit=10) == [("b", "1"), ("b", "2")]
    assert index.scan(prefix="a", limit=10) == [("a", "9"), ("ab", "0")]
    assert index.scan(prefix="a", after=("a", "9"), limit=10) == [("ab", "0")]
    assert index.scan(after=("b", "1"), limit=10) == [("b", "2")]
    assert index.scan(after=("zzz", ""), limit=10) == []
    assert index.scan(limit=2) == [("", "x"), ("a", "9")]
    assert index.scan(limit=0) == []


def test_prefix_with_highest_code_points():
    index = SortedIndex()
    top = "\U0010ffff"
    for value in [top, top * 2, top + "a", "\uffff", "\uffff" + top, "z"]:
        index.add(value, "k")
    assert index.scan(prefix=top, limit=10) == [(top, "k"), (top + "a", "k"), (top * 2, "k")]
    assert index.scan(prefix="\uffff", limit=10) == [("\uffff", "k"), ("\uffff" + top, "k")]


def test_add_duplicate_and_remove_absent_are_errors():
    index = SortedIndex()
    index.add("a", "1")
    with pytest.raises(ValueError):
        index.add("a", "1")
    with pytest.raises(KeyError):
        index.remove("a", "2")
    with pytest.raises(KeyError):
        index.remove("b", "1")
    index.remove("a", "1")
    with pytest.raises(KeyError):
        index.remove("a", "1")
    assert len(index) == 0


def test_scan_argument_errors():
    index = SortedIndex()
    with pytest.raises(ValueError):
        index.scan(exact="a", prefix="a", limit=1)
    with pytest.raises(ValueError):
        index.scan(limit=-1)


def test_copy_is_independent():
    index = SortedIndex()
    index.add("a", "1")
    snapshot = index.copy()
    index.add("b", "2")
    snapshot.remove("a", "1")
    assert index.scan(limit=10) == [("a", "1"), ("b", "2")]
    assert snapshot.scan(limit=10) == []


class CountingStr(str):
    """A str that counts how often the index compares it."""

    calls = 0

    def __lt__(self, other):
        CountingStr.calls += 1
        return str.__lt__(self, other)

    def __eq__(self, other):
        CountingStr.calls += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"exact": "v05000"},
        {"prefix": "v050"},
        {"prefix": "v050", "after": ("v0505", "k")},
        {"after": ("v09990", "k")},
        {"prefix": "nothing"},
        {"exact": "v05000", "after": ("v09999", "")},
    ],
)
def test_scan_never_walks_the_whole_index(kwargs):
    index = SortedIndex()
    for i in range(10_000):
        index.add(CountingStr(f"v{i:05d}"), CountingStr("k"))
    CountingStr.calls = 0
    result = index.scan(limit=5, **kwargs)
    assert len(result) <= 5
    # ~2 bisections of log2(10_000) ≈ 14 steps, each a few comparisons, plus the run.
    assert CountingStr.calls < 150, CountingStr.calls


# -- agreement with the model ----------------------------------------------------------------


@given(
    ops=st.lists(st.tuples(st.sampled_from(["add", "remove"]), ENTRY), max_size=60),
    q=query(),
    after=st.none() | ENTRY,
    limit=st.integers(0, 8),
)
def test_any_history_then_scan_agrees_with_model(ops, q, after, limit):
    index, model = SortedIndex(), set()
    for op, entry in ops:
        if op == "add" and entry not in model:
            index.add(*entry)
            model.add(entry)
        elif op == "remove" and entry in model:
            index.remove(*entry)
            model.discard(entry)
    exact, prefix = q
    assert index.scan(exact=exact, prefix=prefix, after=after, limit=limit) == model_scan(
        model, exact=exact, prefix=prefix, after=after, limit=limit
    )


class IndexAgreesWithModel(RuleBasedStateMachine):
    """Random adds, removes and scans: the index answers exactly as the model does."""

    def __init__(self):
        super().__init__()
        self.index = SortedIndex()
        self.model: set[tuple[str, str]] = set()

    entries = Bundle("entries")

    @rule(target=entries, entry=ENTRY)
    def add(self, entry):
        if entry in self.model:
            with pytest.raises(ValueError):
                self.index.add(*entry)
        else:
            self.index.add(*entry)
            self.model.add(entry)
        return entry

    @rule(entry=entries)
    def remove(self, entry):
        if entry in self.model:
            self.index.remove(*entry)
            self.model.discard(entry)
        else:
            with pytest.raises(KeyError):
                self.index.remove(*entry)

    @rule(q=query(), after=st.none() | ENTRY | entries, limit=st.integers(0, 8))
    def scan(self, q, after, limit):
        exact, prefix = q
        got = self.index.scan(exact=exact, prefix=prefix, after=after, limit=limit)
        assert got == model_scan(self.model, exact=exact, prefix=prefix, after=after, limit=limit)

    @rule(entry=entries, limit=st.integers(1, 8))
    def scan_by_known_prefix(self, entry, limit):
        # Prefixes taken from stored values, so prefix scans often have hits.
        for cut in range(len(entry[0]) + 1):
            prefix = entry[0][:cut]
            got = self.index.scan(prefix=prefix, limit=limit)
            assert got == model_scan(self.model, prefix=prefix, limit=limit)

    @rule()
    def snapshot_is_independent(self):
        snapshot = self.index.copy()
        self.index.add("\U0010ffff" * 5, "snapshot-probe")
        assert len(snapshot) == len(self.model)
        assert snapshot.scan(limit=len(self.model) + 1) == sorted(self.model)
        self.index.remove("\U0010ffff" * 5, "snapshot-probe")

    @invariant()
    def same_size(self):
        assert len(self.index) == len(self.model)


TestIndexAgreesWithModel = IndexAgreesWithModel.TestCase
TestIndexAgreesWithModel.settings = settings(max_examples=200, stateful_step_count=40)


class PaginationWhileMutating(RuleBasedStateMachine):
    """Page through the index with `after` keys while entries come and go.

    Laws: pages never repeat an entry (positions strictly increase across the whole
    chain), every returned entry matched the query and was present when returned,
    and every matching entry present for the whole chain is returned exactly once.
    """

    def __init__(self):
        super().__init__()
        self.index = SortedIndex()
        self.model: set[tuple[str, str]] = set()
        self.chain = None  # the pagination in progress, if any

    entries = Bundle("entries")

    def _matches(self, entry):
        exact, prefix = self.chain["query"]
        return (exact is None or entry[0] == exact) and (
            prefix is None or entry[0].startswith(prefix)
        )

    @rule(target=entries, entry=ENTRY)
    def add(self, entry):
        if entry not in self.model:
            self.index.add(*entry)
            self.model.add(entry)
        return entry

    @rule(entry=consumes(entries))
    def remove(self, entry):
        if entry in self.model:
            self.index.remove(*entry)
            self.model.discard(entry)
            if self.chain is not None:
                self.chain["stable"].discard(entry)  # no longer present throughout

    @precondition(lambda self: self.chain is None)
    @rule(q=query(), limit=st.integers(1, 4))
    def start(self, q, limit):
        self.chain = {"query": q, "limit": limit, "after": None, "seen": [], "stable": None}
        self.chain["stable"] = {e for e in self.model if self._matches(e)}

    @precondition(lambda self: self.chain is not None)
    @rule()
    def next_page(self):
        chain = self.chain
        exact, prefix = chain["query"]
        page = self.index.scan(
            exact=exact, prefix=prefix, after=chain["after"], limit=chain["limit"]
        )
        for entry in page:
            assert entry in self.model and self._matches(entry)
        chain["seen"].extend(page)
        if page:
            chain["after"] = page[-1]
        if len(page) < chain["limit"]:
            self._finish()

    def _finish(self):
        seen = self.chain["seen"]
        assert seen == sorted(set(seen)), "positions must strictly increase: no repeats"
        missing = self.chain["stable"] - set(seen)
        assert not missing, f"entries present throughout but never returned: {missing}"
        self.chain = None

    def teardown(self):
        # Drain an unfinished chain (no more mutations) so its laws are still checked.
        for _ in range(len(self.model) + 2):
            if self.chain is None:
                break
            self.next_page()
        assert self.chain is None


TestPaginationWhileMutating = PaginationWhileMutating.TestCase
TestPaginationWhileMutating.settings = settings(max_examples=200, stateful_step_count=50)
