"""What ``scripts/audit.sh`` says about a pip-audit run: exactly what was checked.

pip-audit answers "No known vulnerabilities found" even when it could check nothing (every
package "not found": a mirror without PyPI's per-version JSON, or no network). This report
counts from its JSON result instead: the packages locked in ``uv.lock``, those that apply
to this platform (environment markers), those pip-audit skipped and why, and those it
really audited. Nothing audited is said as ``NOT AUDITED`` with pip-audit's reason.

    python -m scripts.audit_report --requirements REQ --result JSON --stderr ERR --exit-code N

Exit status: 1 for a known vulnerability (or, with ``--strict``, any package not
audited); 0 otherwise, the warning printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Locked:
    name: str
    applies: bool  # its environment marker holds here (pip-audit only sees these)
    version: str = ""  # a package may be locked twice, one version per Python range


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    exit_code: int = 0


def locked_packages(requirements: str) -> list[Locked]:
    """The ``name==version [; marker]`` lines of ``uv export`` (hashes and comments left out)."""
    found = []
    for line in requirements.splitlines():
        if not line or not line[0].isalnum():
            continue
        spec, _, marker = line.rstrip(" \\").partition(";")
        name, _, version = (part.strip() for part in spec.partition("=="))
        applies = Marker(marker.strip()).evaluate() if marker.strip() else True
        found.append(Locked(canonicalize_name(name), applies, version))
    return found


def summarise(
    locked: list[Locked],
    result: dict[str, Any] | None,
    *,
    exit_code: int,
    stderr: str = "",
    strict: bool = False,
) -> Report:
    """The report of one run (``result`` is pip-audit's JSON, None when it wrote none)."""
    elsewhere = sorted(
        f"{p.name}=={p.version}" if p.version else p.name for p in locked if not p.applies
    )
    scope = f"{len(locked)} locked packages"
    if elsewhere:
        scope += f" ({len(elsewhere)} not used on this platform: {', '.join(elsewhere)})"
    if result is None:
        why = _last_line(stderr) or f"pip-audit exited {exit_code} without a result"
        return Report([f"pip-audit: NOT AUDITED, none of {scope}: {why}"], int(strict))
    deps = result.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(skipped)
    vulnerable = [d for d in deps if d.get("vulns")]
    report = Report()
    if vulnerable:
        report.lines += [_vulnerable(d) for d in vulnerable]
        report.exit_code = 1
    if audited == 0:
        report.lines.append(f"pip-audit: NOT AUDITED, none of {scope}: {_why(skipped)}")
    else:
        report.lines.append(f"pip-audit: {audited} of {scope} audited against the advisories")
        if skipped:
            report.lines.append(f"pip-audit WARNING: {len(skipped)} not audited: {_why(skipped)}")
    if not vulnerable:
        report.lines.append(
            "no known vulnerability in the audited packages"
            if audited
            else "not audited: no vulnerability can be ruled out"
        )
    if strict and skipped and report.exit_code == 0:
        report.exit_code = 1
    return report


def _why(skipped: list[dict[str, Any]]) -> str:
    """The reasons pip-audit gave, most common first, each with its count and an example."""
    reasons: Counter[str] = Counter()
    example: dict[str, str] = {}
    for d in skipped:
        reason, _, detail = str(d["skip_reason"]).partition(": ")
        reasons[reason] += 1
        example.setdefault(reason, detail or str(d.get("name", "")))
    return "; ".join(f"{n} skipped, {r} (e.g. {example[r]})" for r, n in reasons.most_common())


def _vulnerable(dep: dict[str, Any]) -> str:
    ids = ", ".join(
        f"{v['id']} (fixed in {', '.join(v.get('fix_versions') or []) or 'no release'})"
        for v in dep["vulns"]
    )
    return f"pip-audit: VULNERABLE {dep['name']} {dep.get('version', '')}: {ids}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--requirements", type=Path, required=True)
    args.add_argument("--result", type=Path, required=True)
    args.add_argument("--stderr", type=Path)
    args.add_argument("--exit-code", type=int, default=0)
    args.add_argument("--strict", action="store_true")
    given = args.parse_args(argv)
    try:
        result = json.loads(given.result.read_text())
    except (OSError, ValueError):
        result = None
    stderr = given.stderr.read_text(errors="replace") if given.stderr else ""
    report = summarise(
        locked_packages(given.requirements.read_text()),
        result,
        exit_code=given.exit_code,
        stderr=stderr,
        strict=given.strict,
    )
    print("\n".join(report.lines))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
