#!/usr/bin/env bash
# The suite on a busy machine: a CPU hog keeps the load above 6 (stress-ng --cpu 6, Debian's
# package, or 6 busy loops when it is not installed) while the full suite runs once, then the
# interrupt, kill, deadline and embedded-model tests run ROUNDS times in a row (default 5).
# The hog is always stopped, however the script ends.
#
#   scripts/test-under-load.sh                  # full suite once, then the targeted tests 5 times
#   scripts/test-under-load.sh --targeted-only  # only the 5 rounds of the targeted tests
#   ROUNDS=2 PYTHON=.venv/bin/python scripts/test-under-load.sh
#
# Needs pytest-timeout (requirements-dev.txt); `apt-get install stress-ng` for Debian's hog.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
ROUNDS=${ROUNDS:-5}
HOGS=${HOGS:-6}
TARGETED_ONLY=0
[[ "${1:-}" == "--targeted-only" ]] && TARGETED_ONLY=1

TARGETED=(
  # interrupts: Ctrl-C / a kernel interrupt / a cancel once a run is committed, another in flight
  tests/core/test_interrupt.py
  tests/test_cli.py::test_ctrl_c_keeps_finished_runs
  tests/core/test_engine.py::test_cancel_returns_partial_result
  tests/server/test_start_job.py::test_delete_cancels_and_keeps_finished_runs
  tests/core/test_ray.py::test_ctrl_c_cancels_the_cluster_work_and_keeps_the_finished_rows
  # kills: SIGKILL mid-job, then resume or restart
  tests/core/test_durability.py
  tests/core/test_store.py::test_resume_after_sigkill
  tests/core/test_store.py::test_batch_resume_after_sigkill
  tests/core/test_remote_selector.py::test_a_resumed_job_reads_its_key_again_and_never_stores_it
  tests/server/test_load_and_restart.py::test_kill_9_mid_job_then_restart_finishes_without_redoing_runs
  tests/core/test_ray.py::test_an_actor_that_dies_hands_its_units_to_another
  # deadlines: a run, a batch row, a retry loop, a generation that stop at their deadline
  tests/core/test_runner.py::test_a_batch_row_ends_at_execution_timeout
  tests/core/test_runner.py::test_the_deadline_covers_the_retries
  tests/core/test_runner.py::test_retry_after_never_outlasts_the_deadline
  tests/core/test_batch.py::test_timeout_and_429
  tests/llm/test_local_provider.py::test_generation_stops_at_the_deadline
  # the embedded model end to end
  tests/test_start_job_docs.py::test_the_rest_body_runs_offline_on_the_embedded_model
  tests/server/test_start_job.py::test_provider_local_runs_a_keyless_request_on_the_embedded_model
  tests/core/test_stages.py::test_the_local_model_loads_as_its_own_stage
)

hog_pids=()
stop_hog() {
  for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${hog_pids[@]}"; do wait "$pid" 2>/dev/null; done
  hog_pids=()
}
trap stop_hog EXIT
trap 'stop_hog; exit 130' INT TERM

load() { cut -d' ' -f1 /proc/loadavg; }

if command -v stress-ng >/dev/null; then
  stress-ng --cpu "$HOGS" --quiet &
  hog_pids+=($!)
  hog="stress-ng --cpu $HOGS"
else
  for _ in $(seq "$HOGS"); do
    "$PYTHON" -c 'while True: pass' &
    hog_pids+=($!)
  done
  hog="$HOGS python busy loops (stress-ng not installed)"
fi
echo "hog: $hog; waiting for the 1-minute load average to pass 6 (now $(load))"
for _ in $(seq 180); do  # the load average follows in about a minute; give up waiting after 3
  awk -v l="$(load)" 'BEGIN { exit !(l > 6) }' && break
  sleep 1
done
echo "load average: $(load)"

LOGS=${LOGS:-test-artifacts/under-load}
mkdir -p "$LOGS"
results=()
run() {  # run NAME PYTEST-ARGS...: one pytest run under the hog; its log kept in $LOGS, its summary line shown
  local name=$1; shift
  local began=$SECONDS file=${name// /-}
  local log="$LOGS/${file//\//-of-}.log"
  "$PYTHON" -m pytest -p no:cacheprovider "$@" > "$log" 2>&1  # -q comes from pyproject
  local code=$?
  local summary
  summary=$(grep -E "passed|failed|error" "$log" | tail -1)
  results+=("$name: exit $code, $((SECONDS - began)) s, load $(load): ${summary:-no summary} ($log)")
  echo "${results[-1]}"
  return "$code"
}

failed=0
if [[ $TARGETED_ONLY == 0 ]]; then
  run "full suite" -rfE || failed=1  # no -m: everything, as CI runs it
fi
for round in $(seq "$ROUNDS"); do
  run "targeted round $round/$ROUNDS" -rfEs "${TARGETED[@]}" || failed=1
done

stop_hog
echo
echo "== under load ($hog) =="
printf '%s\n' "${results[@]}"
exit "$failed"
