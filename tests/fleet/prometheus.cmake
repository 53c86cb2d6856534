# A real Prometheus server scrapes three replicas of a server that use vigil and adds their
# latency histograms up in PromQL (docs/fleet.md, "Prometheus: latency histograms across
# replicas"). Included by tests/CMakeLists.txt.
#
# The replica and the client link cpp-httplib (Debian libcpp-httplib-dev, found through
# pkg-config); the server is Debian's prometheus package, which scripts/setup installs for
# promtool. Built and registered where the `vigil` program is built (scripts/test's first
# stage), so that the suite starts the servers once, not once per compiler and sanitizer.
if(NOT VIGIL_BUILD_TOOLS)
  return()
endif()
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(VIGIL_HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
if(NOT VIGIL_HTTPLIB_FOUND)
  message(STATUS "cpp-httplib not found (Debian: libcpp-httplib-dev): the Prometheus fleet test is left out")
  return()
endif()

foreach(program prometheus_replica prometheus_check)
  add_executable(vigil_${program} ${CMAKE_CURRENT_LIST_DIR}/${program}.cpp)
  target_link_libraries(vigil_${program} PRIVATE vigil_tools PkgConfig::VIGIL_HTTPLIB)
  vigil_target_options(vigil_${program})
endforeach()

find_program(VIGIL_PROMETHEUS prometheus)
add_test(NAME vigil:fleet_prometheus
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/prometheus_test.sh
    --prometheus "${VIGIL_PROMETHEUS}" --require "${VIGIL_REQUIRE_PROMTOOL}"
    --replica $<TARGET_FILE:vigil_prometheus_replica> --check $<TARGET_FILE:vigil_prometheus_check>
    --data ${PROJECT_SOURCE_DIR}/data/insects_demo --work ${CMAKE_CURRENT_BINARY_DIR}/fleet_prometheus)
set_tests_properties(vigil:fleet_prometheus PROPERTIES TIMEOUT 120 LABELS fleet
  SKIP_REGULAR_EXPRESSION "prometheus not found: the fleet test is skipped")
