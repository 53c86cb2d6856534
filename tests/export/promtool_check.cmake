# Runs `promtool check metrics` (Prometheus's own linter) on every Prometheus exposition the
# tests produce: the golden exports of tests/export/golden, which the export tests compare
# byte for byte with to_prometheus(), and, when the `vigil` program is built, the
# --prometheus file of a replay of the bundled demo (features, a categorical feature, scores
# with classes, tags as cohorts, latencies: most families).
#
# Variables: PROMTOOL (the program, or empty/NOTFOUND), REQUIRE (ON: a missing promtool is a
# failure, not a skip), GOLDEN (tests/export/golden), and optionally VIGIL (the program),
# DEMO (data/insects_demo) and WORK (a scratch directory).

if(NOT PROMTOOL OR NOT EXISTS "${PROMTOOL}")
  if(REQUIRE)
    message(FATAL_ERROR "promtool is required (VIGIL_REQUIRE_PROMTOOL=ON) but was not found; "
                        "scripts/setup installs Debian's prometheus package, which provides it")
  endif()
  # The test's SKIP_REGULAR_EXPRESSION matches this line.
  message("promtool not found: the Prometheus lint is skipped")
  return()
endif()

set(checked 0)

function(check_metrics file)
  execute_process(COMMAND ${PROMTOOL} check metrics INPUT_FILE ${file}
                  RESULT_VARIABLE code OUTPUT_VARIABLE output ERROR_VARIABLE errors)
  if(NOT code EQUAL 0 OR NOT "${output}${errors}" STREQUAL "")
    message(FATAL_ERROR "promtool check metrics rejects ${file} (exit code ${code}):\n${output}${errors}")
  endif()
  file(STRINGS ${file} families REGEX "^# TYPE ")
  list(LENGTH families count)
  message("${file}: ${count} families pass")
  math(EXPR total "${checked} + 1")
  set(checked ${total} PARENT_SCOPE)
endfunction()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE errors)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "exit code ${code}: ${ARGN}\n${errors}")
  endif()
endfunction()

file(GLOB golden_files ${GOLDEN}/*.prom.golden)
list(LENGTH golden_files golden_count)
if(golden_count LESS 4)
  message(FATAL_ERROR "expected the four golden Prometheus exports in ${GOLDEN}, found ${golden_count}")
endif()
foreach(file IN LISTS golden_files)
  check_metrics(${file})
endforeach()

if(VIGIL)
  file(REMOVE_RECURSE ${WORK})
  file(MAKE_DIRECTORY ${WORK})
  run(${VIGIL} profile --input ${DEMO}/train.csv --output ${WORK}/reference.vigil
      --categorical band --score-column score --predicted-column predicted --label-column species)
  run(${VIGIL} replay --reference ${WORK}/reference.vigil --input ${DEMO}/traffic.csv
      --alerts ${WORK}/alerts.jsonl --tag-columns host,model_version --latency-column latency_ms
      --label-column species --prometheus ${WORK}/replay.prom)
  foreach(family vigil_feature_psi vigil_output_score_quantile vigil_latency_quantile_seconds)
    file(STRINGS ${WORK}/replay.prom samples REGEX "^${family}\\{")
    if(NOT samples)
      message(FATAL_ERROR "${WORK}/replay.prom has no ${family} sample: the lint would check too little")
    endif()
  endforeach()
  check_metrics(${WORK}/replay.prom)
endif()

message("promtool check metrics: ${checked} expositions pass")
