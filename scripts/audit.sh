#!/usr/bin/env bash
# Dependency audit of uv.lock against PyPI's advisories (pip-audit). A known vulnerability
# fails the run unless scripts/pip-audit-ignore.txt lists its ID with the reason.
#
# Decision: a package the advisory service cannot answer for is a warning, not a failure.
# Some package mirrors serve the project pages but not PyPI's per-version JSON API that
# pip-audit reads; there every package is "not found" and an audit is impossible — a
# limit of the network, not a finding. Then the run says so loudly (and how many packages
# went unaudited) instead of failing every test run. SHAOBAO_STRICT_AUDIT=1 makes an
# unaudited package fail too (use it where PyPI is reachable); SHAOBAO_SKIP_PIP_AUDIT=1
# skips the audit.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${SHAOBAO_SKIP_PIP_AUDIT:-}" = 1 ]; then echo "pip-audit skipped (SHAOBAO_SKIP_PIP_AUDIT=1)"; exit 0; fi
ignores=$(grep -oE '^[A-Z][A-Za-z0-9-]+' scripts/pip-audit-ignore.txt | sed 's/^/--ignore-vuln /')
strict=(); [ "${SHAOBAO_STRICT_AUDIT:-}" = 1 ] && strict=(--strict)
out=$(uv export --frozen --no-emit-project --all-groups \
  | uv run --frozen pip-audit "${strict[@]}" --progress-spinner off --disable-pip --require-hashes \
      -r /dev/stdin $ignores 2>&1)
rc=$?
total=$(uv export --frozen --no-emit-project --all-groups | grep -cE '^[a-z0-9]')
unaudited=$(grep -c 'could not be audited' <<<"$out")
if [ "$rc" -ne 0 ]; then
  echo "$out" | grep -v 'could not be audited'
  echo "pip-audit: FAILED (exit $rc)"; exit "$rc"
fi
if [ "$unaudited" -gt 0 ]; then
  echo "pip-audit WARNING: $unaudited of $total locked packages could not be audited (the advisory service did not answer for them); no known vulnerability in the rest"
else
  echo "pip-audit: $total locked packages audited, no known vulnerability"
fi
