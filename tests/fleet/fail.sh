# Sourced by the fleet tests: fail LOG_DIR MESSAGE... says why the test failed, shows the last
# lines of every log in LOG_DIR (the servers' and the helper programs'), and exits with 1,
# which runs the test's EXIT trap: its servers are stopped.
fail_with_logs() {
  local dir=$1
  shift
  echo "FAILED: $*" >&2
  local log
  for log in "$dir"/*.log; do
    [[ -f "$log" ]] || continue
    echo "--- last lines of $log" >&2
    tail -n 20 "$log" >&2
  done
  exit 1
}
