#!/usr/bin/env bash
# `make fuzz`: runs each libFuzzer target of credsd-fuzz for FUZZ_RUNS executions (default 1,000,000),
# starting from the committed seeds in fuzz/corpus/TARGET/. New inputs go to .build-fuzz/corpus/TARGET/,
# a crash to .build-fuzz/artifacts/. Prints one line per target and exits 1 if any target found something.
# FUZZ_TARGETS="methods token-replies" runs only those.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${FUZZ_RUNS:-1000000}
binary=.build-fuzz/release/credsd-fuzz
failed=0
mkdir -p .build-fuzz/artifacts
for target in ${FUZZ_TARGETS:-frame-decoder rpc-request credential-payload methods token-replies}; do
  work=.build-fuzz/corpus/$target
  log=.build-fuzz/$target.log
  mkdir -p "$work"
  # methods keeps an engine and its store across inputs (replaced after any input that may have changed them),
  # so memory allocated by one input is legitimately freed by a later one; LeakSanitizer would stop at the first.
  # A hang is a finding there: -timeout 60 (one call is given 20 s to answer).
  options=()
  leaks=1
  if [ "$target" = methods ]; then options=(-detect_leaks=0 -timeout=60); leaks=0; fi
  start=$(date +%s)
  if ASAN_OPTIONS="detect_leaks=$leaks${ASAN_OPTIONS:+:$ASAN_OPTIONS}" CREDSD_FUZZ_TARGET=$target "$binary" \
      -runs="$runs" -max_len=4096 -print_final_stats=1 "${options[@]}" \
      -artifact_prefix=".build-fuzz/artifacts/$target-" "$work" "fuzz/corpus/$target" >"$log" 2>&1; then
    outcome="no finding"
  else
    outcome="FINDING (see $log and .build-fuzz/artifacts/)"
    failed=1
  fi
  executed=$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
  corpus=$(ls "$work" | wc -l)
  printf '%-19s %9s executions in %4ss, coverage %5s, corpus %5s + %s seeds: %s\n' \
    "$target" "$executed" "$(( $(date +%s) - start ))" "$coverage" "$corpus" "$(ls "fuzz/corpus/$target" | wc -l)" "$outcome"
done
if [ "$failed" = 1 ]; then
  echo "To keep a finding as a regression test: copy the artifact into fuzz/corpus/TARGET/ (make test replays it)."
  echo "Reproduce without the fuzzer: swift build && .build/debug/credsd-fuzz TARGET FILE"
fi
exit $failed
