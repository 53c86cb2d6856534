#!/usr/bin/env bash
# A real Prometheus server adds up the latency histograms of three replicas of a server that
# uses vigil, and PromQL's quantiles agree with vigil's own merge (docs/fleet.md, "Prometheus:
# latency histograms across replicas"). Run by ctest (tests/fleet/prometheus.cmake):
#
#   prometheus_test.sh --prometheus /usr/bin/prometheus --require ON|OFF
#                      --replica vigil_prometheus_replica --check vigil_prometheus_check
#                      --data data/insects_demo --work SCRATCH_DIR
#
# 1. Three replicas (tests/fleet/prometheus_replica.cpp) each replay every third request of
#    data/insects_demo/traffic.csv (17,568 requests, latencies with a slow host) and serve
#    GET /metrics on a port of 127.0.0.1 the kernel picks; each writes its port once its
#    share is in.
# 2. Prometheus, started in SCRATCH_DIR on a free port of 127.0.0.1 with its own storage,
#    scrapes them every second. It runs with --enable-feature=native-histograms: Debian's 2.42
#    then asks for the protobuf format first, and the check below proves that the text format
#    the replicas answer in gives classic buckets only (text is parsed the same way with or
#    without the flag).
# 3. vigil_prometheus_check (tests/fleet/prometheus_check.cpp) waits until every replica was
#    scraped with all its requests and compares PromQL over the HTTP API with vigil.
#
# Every process started here is stopped on exit, failure included; each also runs under
# `timeout`, so none outlives the test even if this script is killed. Nothing listens beyond
# 127.0.0.1 and nothing is written outside SCRATCH_DIR. No step depends on the user: root on a
# fresh machine and an ordinary user run the same commands.
set -euo pipefail

prometheus=""
require=OFF
replica=""
check=""
data=""
work=""
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || { echo "prometheus_test.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --prometheus) prometheus=$2 ;;
    --require) require=$2 ;;
    --replica) replica=$2 ;;
    --check) check=$2 ;;
    --data) data=$2 ;;
    --work) work=$2 ;;
    *) echo "prometheus_test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done

if [[ -z "$prometheus" || ! -x "$prometheus" ]]; then
  if [[ "$require" == ON ]]; then
    echo "prometheus is required (VIGIL_REQUIRE_PROMTOOL=ON) but was not found; scripts/setup installs Debian's prometheus package" >&2
    exit 1
  fi
  # The test's SKIP_REGULAR_EXPRESSION matches this line.
  echo "prometheus not found: the fleet test is skipped"
  exit 0
fi

replicas=3
lifetime=100  # seconds any process started here may live, whatever happens to this script
rm -rf "$work"
mkdir -p "$work"
pids=()

stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

# shellcheck source=fail.sh
source "$(dirname "$0")/fail.sh"
fail() { fail_with_logs "$work" "$@"; }

# Waits until `file` is not empty, while process `pid` lives, for at most `seconds`.
wait_for_file() {
  local file=$1 pid=$2 seconds=$3 waited=0
  until [[ -s "$file" ]]; do
    kill -0 "$pid" 2>/dev/null || fail "process $pid ended before writing $file"
    ((waited < seconds * 10)) || fail "no $file after $seconds s"
    sleep 0.1
    waited=$((waited + 1))
  done
}

echo "== $replicas replicas"
for ((k = 0; k < replicas; k++)); do
  timeout --kill-after=5 "$lifetime" "$replica" --train "$data/train.csv" --traffic "$data/traffic.csv" \
    --replica "$k" --replicas "$replicas" --ready "$work/replica$k.port" --histogram "$work/replica$k.hist" \
    --accept-log "$work/replica$k.accept" 2>"$work/replica$k.log" &
  pids+=($!)
done
targets=()
for ((k = 0; k < replicas; k++)); do
  wait_for_file "$work/replica$k.port" "${pids[$k]}" 30
  targets+=("127.0.0.1:$(<"$work/replica$k.port")")
  cat "$work/replica$k.log"
done

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: [$(IFS=,; echo "${targets[*]}")]
EOF

echo "== $("$prometheus" --version 2>&1 | head -n 1)"
# The port is free when asked but may be taken before Prometheus binds it: then Prometheus
# exits, and another port is tried. Readiness is read from this Prometheus' own log, so that
# another server on the same port can never pass for it.
started=""
for attempt in 1 2 3; do
  port=$("$check" free-port)
  log="$work/prometheus.log"
  timeout --kill-after=5 "$lifetime" "$prometheus" --config.file="$work/prometheus.yml" \
    --storage.tsdb.path="$work/data" --web.listen-address="127.0.0.1:$port" \
    --enable-feature=native-histograms >"$log" 2>&1 &
  prometheus_pid=$!
  pids+=("$prometheus_pid")
  for ((waited = 0; waited < 300; waited++)); do
    if grep -q "Server is ready to receive web requests" "$log"; then
      started=yes
      break
    fi
    kill -0 "$prometheus_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n "$started" ]] && break
  kill -0 "$prometheus_pid" 2>/dev/null && fail "Prometheus runs but is not ready after 30 s"
  echo "Prometheus on port $port ended (attempt $attempt): $(tail -n 1 "$log")"
  mv "$log" "$work/prometheus.attempt$attempt.log"
done
[[ -n "$started" ]] || fail "Prometheus did not start"
"$check" ready --prometheus "127.0.0.1:$port" --timeout 10 || fail "Prometheus does not answer /-/ready"
echo "Prometheus ready on 127.0.0.1:$port, scraping ${targets[*]} every 1 s"

echo "== PromQL against vigil"
histograms=()
accept_logs=()
for ((k = 0; k < replicas; k++)); do
  histograms+=("$work/replica$k.hist")
  accept_logs+=("$work/replica$k.accept")
done
"$check" compare --prometheus "127.0.0.1:$port" --job vigil --timeout 30 \
  --histograms "$(IFS=,; echo "${histograms[*]}")" --traffic "$data/traffic.csv" \
  --accept-logs "$(IFS=,; echo "${accept_logs[*]}")" || fail "PromQL and vigil disagree"
echo "fleet test passed in $SECONDS s"
