"""What a conformance run tells: a line per scenario, a table per area, a divergence report."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from authflow.conformance.runner import BROKEN, FAILED, PASSED, SKIPPED, Result
from authflow.conformance.scenarios import EVIDENCE

_MARK = {PASSED: "ok  ", FAILED: "FAIL", SKIPPED: "skip", BROKEN: "BROKEN"}


def progress_line(result: Result, number: int, total: int) -> str:
    width = len(str(total))
    line = f"[{number:>{width}}/{total}] {_MARK[result.status]} {result.scenario.id}"
    if result.status == FAILED:
        line += f"  (step {result.step}: {result.problems[0] if result.problems else ''})"
    elif result.status in (SKIPPED, BROKEN):
        line += f"  ({result.reason})"
    return line


def by_area(results: list[Result]) -> dict[str, Counter[str]]:
    areas: dict[str, Counter[str]] = {}
    for result in results:
        areas.setdefault(result.scenario.area, Counter())[result.status] += 1
    return areas


def pass_rate(counts: Counter[str]) -> str:
    ran = counts[PASSED] + counts[FAILED] + counts[BROKEN]
    return f"{100 * counts[PASSED] / ran:.0f}%" if ran else "-"


def summary_table(results: list[Result]) -> str:
    """A Markdown table: passed / failed / skipped and the pass rate per area, and the total."""
    rows = ["| area | passed | failed | skipped | pass rate |", "|---|---:|---:|---:|---:|"]
    total: Counter[str] = Counter()
    for area, counts in sorted(by_area(results).items()):
        total.update(counts)
        rows.append(_row(area, counts))
    rows.append(_row("**all**", total))
    return "\n".join(rows)


def _row(name: str, counts: Counter[str]) -> str:
    failed = counts[FAILED] + counts[BROKEN]
    return f"| {name} | {counts[PASSED]} | {failed} | {counts[SKIPPED]} | {pass_rate(counts)} |"


def markdown_report(results: list[Result], target_name: str) -> str:
    lines = [f"# Conformance of {target_name}", "", summary_table(results), ""]
    diverged = [r for r in results if r.status in (FAILED, BROKEN)]
    lines.append(f"## Divergences ({len(diverged)})")
    lines.append("")
    if not diverged:
        lines.append("None: every scenario that ran passed.")
    for result in diverged:
        scenario = result.scenario
        tags = ", ".join(f"{t} ({EVIDENCE[t]})" for t in scenario.evidence)
        lines.extend([
            f"### {scenario.id}",
            "",
            f"{scenario.doc}",
            "",
            f"- evidence: {tags}" + (f"; reference: {scenario.reference}" if scenario.reference else ""),
            f"- stopped at step {result.step}",
        ])
        if result.status == BROKEN:
            lines.append(f"- the scenario itself is broken: {result.reason}")
        else:
            lines.extend(f"- {p}" for p in result.problems)
            lines.extend(["", "expected:", "", f"    {result.expected}", "", "actual:", "", f"    {result.actual}"])
        lines.append("")
    skipped = [r for r in results if r.status == SKIPPED]
    if skipped:
        lines.extend([f"## Skipped ({len(skipped)})", ""])
        lines.extend(f"- {r.scenario.id}: {r.reason}" for r in skipped)
        lines.append("")
    return "\n".join(lines)


def json_report(results: list[Result], target_name: str) -> str:
    def one(result: Result) -> dict[str, Any]:
        return {
            "id": result.scenario.id, "area": result.scenario.area, "name": result.scenario.name,
            "evidence": list(result.scenario.evidence), "status": result.status, "step": result.step,
            "problems": result.problems, "expected": result.expected, "actual": result.actual,
            "reason": result.reason, "seconds": round(result.seconds, 3),
        }
    areas = {area: dict(counts) for area, counts in by_area(results).items()}
    return json.dumps({"target": target_name, "areas": areas, "scenarios": [one(r) for r in results]}, indent=2)
