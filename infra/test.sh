#!/usr/bin/env bash
# Runs every test file (or the ones given) with node's test runner under tsx. Files run one at a time by default:
# several start real servers and sandboxes, and the CI machine has two cores. AGENTRL_TEST_CONCURRENCY overrides.
# The tests write their runs under a temporary folder of this invocation (TMPDIR): removed when every test passes,
# kept (and named) when one fails. Left in the system's /tmp, a full run's outputs (over 5 GB, most of it the SFT crash
# tests' checkpoints) piled up run after run until the disk was full.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort); fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/agentrl-tests-XXXXXX")
rc=0
TMPDIR="$scratch" node --import tsx --test --test-concurrency="${AGENTRL_TEST_CONCURRENCY:-1}" "${files[@]}" || rc=$?
if [ "$rc" -eq 0 ]; then rm -rf "$scratch"; else echo "[test] a test failed; its files are kept in $scratch" >&2; fi
exit "$rc"
