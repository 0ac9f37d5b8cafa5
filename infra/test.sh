#!/usr/bin/env bash
# Runs every test file (or the ones given) with node's test runner under tsx. Files run one at a time by default:
# several start real servers and sandboxes, and the CI machine has two cores. AGENTRL_TEST_CONCURRENCY overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort); fi
exec node --import tsx --test --test-concurrency="${AGENTRL_TEST_CONCURRENCY:-1}" "${files[@]}"
