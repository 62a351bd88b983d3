"""Java regular expressions from the service model, run with Python's `re`.

Theory of operation: the model's `pattern` constraints are Java regexes that AWS applies to
the whole value. Python's `re` differs from Java in three ways that matter here, and
`translate` rewrites a pattern to remove them:

* `\\p{X}` / `\\P{X}` (Unicode general categories, e.g. `\\p{L}` in `UsernameType`) do not
  exist in `re`; they become explicit code-point ranges computed from `unicodedata`, inside
  or outside a character class.
* `\\w`, `\\d`, `\\s` and `\\b` are ASCII-only in Java but Unicode-aware in `re`; patterns are
  compiled with `re.ASCII`, which has no effect on the explicit ranges above.
* Java's `.` does not match any line terminator (`\\n \\r \\u0085 \\u2028 \\u2029`) unless
  DOTALL is on, while `re`'s `.` only refuses `\\n`; outside classes `.` becomes an explicit
  negated class, unless the pattern turns on `(?s)`.

Java syntax `re` cannot express (nested classes `[a[b]]`, intersections `&&`, `\\Q...\\E`)
raises ValueError rather than silently meaning something else; a test compiles every pattern
in the shipped model. Category tables are built on first use (one pass over all code
points, a fraction of a second) and cached; nothing is computed at import.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

_JAVA_DOT = "[^\\n\\r\\u0085\\u2028\\u2029]"
_MAJOR = ("L", "M", "N", "P", "S", "Z", "C")

Ranges = tuple[tuple[int, int], ...]


@functools.cache
def _subcategory_ranges() -> dict[str, Ranges]:
    """Two-letter general category (`Lu`, `Nd`, ... `Cn`) -> sorted code-point ranges."""
    found: dict[str, list[tuple[int, int]]] = {}
    start, current = 0, unicodedata.category("\0")
    for cp in range(1, sys.maxunicode + 1):
        cat = unicodedata.category(chr(cp))
        if cat != current:
            found.setdefault(current, []).append((start, cp - 1))
            start, current = cp, cat
    found.setdefault(current, []).append((start, sys.maxunicode))
    return {cat: tuple(r) for cat, r in found.items()}


def _merge(ranges: list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


@functools.cache
def property_ranges(name: str) -> Ranges:
    """Code-point ranges of a Java `\\p{...}` general-category property (`L`, `Lu`, `IsL`...)."""
    cat = name[2:] if name.startswith("Is") else name
    table = _subcategory_ranges()
    if cat in _MAJOR:
        return _merge([r for sub, rs in table.items() if sub[0] == cat for r in rs])
    if len(cat) == 2 and cat[0] in _MAJOR and cat[1].islower():
        # A real subcategory with no code points (none today) is still a valid, empty set.
        return table.get(cat, ())
    raise ValueError(f"unsupported Java character property: \\p{{{name}}}")


def _complement(ranges: Ranges) -> Ranges:
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= sys.maxunicode:
        out.append((nxt, sys.maxunicode))
    return tuple(out)


def _class_body(ranges: Ranges) -> str:
    return "".join(
        f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges
    )


def _read_property(java: str, i: int) -> tuple[str, int]:
    """The property name starting at java[i] (after `\\p`), and the index after it."""
    if i >= len(java):
        raise ValueError("\\p at end of pattern")
    if java[i] != "{":
        return java[i], i + 1  # the one-letter form, \pL
    end = java.find("}", i)
    if end < 0:
        raise ValueError("unterminated \\p{")
    return java[i + 1:end], end + 1


def translate(java: str) -> str:
    """A Python `re` pattern (to compile with `re.ASCII`) equivalent to a Java pattern."""
    out: list[str] = []
    in_class = False
    dotall = "(?s)" in java  # the model only ever sets it at the start
    i, n = 0, len(java)
    while i < n:
        c = java[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("pattern ends with a backslash")
            nxt = java[i + 1]
            if nxt in "pP":
                name, i = _read_property(java, i + 2)
                ranges = property_ranges(name)
                body = _class_body(_complement(ranges) if nxt == "P" else ranges)
                out.append(body if in_class else f"[{body}]")
                continue
            if nxt in "QE":
                raise ValueError("\\Q...\\E quoting is not supported")
            out.append(java[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "[":
                raise ValueError("nested character classes are not supported")
            if java.startswith("&&", i):
                raise ValueError("character class intersection is not supported")
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if java.startswith("^", i + 1):
                out.append("[^")
                i += 2
                continue
        elif c == "." and not dotall:
            out.append(_JAVA_DOT)
            i += 1
            continue
        out.append(c)
        i += 1
    if in_class:
        raise ValueError("unterminated character class")
    return "".join(out)


@functools.cache
def compile_java(java: str) -> re.Pattern[str]:
    """The compiled translation of a Java pattern (cached per pattern)."""
    return re.compile(translate(java), re.ASCII)


def full_match(java: str, value: str) -> bool:
    """True if the Java pattern matches the whole of `value`, as AWS applies it."""
    return compile_java(java).fullmatch(value) is not None
