#!/usr/bin/env bash
# Fuzzes with libFuzzer (docs/operations.md, "Fuzzing"):
#
#   scripts/fuzz.sh decoder|expression|pipeline|portal-link|all [RUNS] [--keep]
#
# Builds the target with the fuzzer and address sanitizers into .build-fuzz, runs RUNS executions (default 1000000)
# from a copy of its seed corpus Fuzz/corpus/TARGET with the dictionary Fuzz/TARGET.dict, and ends with one line of
# figures per target. libFuzzer's own output goes to .build-fuzz/logs/TARGET.log. A crash (a trap, a failed property,
# a memory error, a timeout) stops the target; its input is kept in .build-fuzz/crashes/TARGET/ and the script exits 1.
# New inputs are thrown away, unless --keep merges those that add coverage into the seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/fuzz.sh decoder|expression|pipeline|portal-link|all [RUNS] [--keep]" >&2
  exit 2
}

keep=0
args=()
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    -h | --help) usage ;;
    *) args+=("$arg") ;;
  esac
done
[ ${#args[@]} -ge 1 ] && [ ${#args[@]} -le 2 ] || usage
runs=${args[1]:-1000000}
[[ $runs =~ ^[0-9]+$ ]] || usage

product() {
  case $1 in
    decoder) echo DecoderFuzz ;;
    expression) echo ExpressionFuzz ;;
    pipeline) echo PipelineFuzz ;;
    portal-link) echo PortalLinkFuzz ;;
    *) return 1 ;;
  esac
}

if [ "${args[0]}" = all ]; then
  targets=(decoder expression pipeline portal-link)
else
  product "${args[0]}" >/dev/null || usage
  targets=("${args[0]}")
fi

# SwiftPM's own --sanitize (not -Xswiftc -sanitize=…) so that the executables leave `main` to libFuzzer; FUZZING
# drops their corpus-replaying main. Swift 6.3 instruments a whole-module build (release) for coverage only when
# -sanitize-coverage is given as well: without it libFuzzer sees no edge of the Swift code and fuzzes blind.
build=(swift build -c release --scratch-path .build-fuzz --sanitize fuzzer --sanitize address -Xswiftc -DFUZZING
  -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p .build-fuzz/logs
crashed=0

for target in "${targets[@]}"; do
  name=$(product "$target")
  "${build[@]}" --product "$name" >&2
  binary="$("${build[@]}" --show-bin-path)/$name"
  corpus="$work/$target"
  crashes=".build-fuzz/crashes/$target"
  log=".build-fuzz/logs/$target.log"
  mkdir -p "$corpus" "$crashes"
  cp Fuzz/corpus/"$target"/* "$corpus"/
  echo "fuzzing $target: $runs executions, libFuzzer's output in $log" >&2

  start=$(date +%s)
  status=0
  "$binary" "$corpus" -runs="$runs" -dict="Fuzz/$target.dict" -artifact_prefix="$crashes/" -timeout=60 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  seconds=$(($(date +%s) - start))

  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$executions" ] || executions=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)
  executions=${executions:-0}
  inputs=$(find "$corpus" -type f | wc -l)
  rate=$((executions / (seconds > 0 ? seconds : 1)))
  edges=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -1)
  figures="fuzz $target: $executions executions in $seconds s ($rate/s), corpus $inputs inputs, ${edges:-0} edges covered"

  if grep -q "Is the code instrumented for coverage" "$log"; then
    crashed=1
    echo "$figures, NOT INSTRUMENTED: libFuzzer saw no coverage (see $log)"
    continue
  fi

  if [ "$status" -ne 0 ]; then
    crashed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    grep -E '^(Fatal error|.*fuzz [a-z-]+:|==[0-9]+==ERROR|SUMMARY)' "$log" | head -5 >&2 || true
    echo "$figures, CRASH (exit $status): ${artifact:-see $log}"
    continue
  fi
  if [ "$keep" = 1 ]; then
    "$binary" -merge=1 "Fuzz/corpus/$target" "$corpus" >>"$log" 2>&1
  fi
  echo "$figures, no crash"
done

exit $crashed
