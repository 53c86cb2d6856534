# A real PostgreSQL server with the `tdigest` extension merges the output digests of 8
# replicas written with TDigest::to_postgres() (docs/fleet.md, "PostgreSQL: output digests
# across replicas"). Included by tests/CMakeLists.txt.
#
# The server, its client and the extension are Debian's postgresql-15, postgresql-client-15
# and postgresql-15-tdigest, which scripts/setup installs; vigil itself never needs libpq.
# Without them the test is skipped, unless VIGIL_REQUIRE_POSTGRES is on (scripts/test turns it
# on), which makes a missing server fail the configuration and the test. Built and registered
# where the `vigil` program is built (scripts/test's first stage), so that the suite starts the
# server once, not once per compiler and sanitizer.
if(NOT VIGIL_BUILD_TOOLS)
  return()
endif()
option(VIGIL_REQUIRE_POSTGRES "Fail when PostgreSQL 15, needed by the PostgreSQL fleet test, is missing" OFF)
find_program(VIGIL_POSTGRES postgres PATHS /usr/lib/postgresql/15/bin NO_DEFAULT_PATH)
if(VIGIL_REQUIRE_POSTGRES AND NOT VIGIL_POSTGRES)
  message(FATAL_ERROR "VIGIL_REQUIRE_POSTGRES is on but PostgreSQL 15 was not found in /usr/lib/postgresql/15/bin "
                      "(Debian packages postgresql-15, postgresql-client-15, postgresql-15-tdigest; scripts/setup "
                      "installs them; -DVIGIL_POSTGRES=<path to postgres> names another)")
endif()
set(bindir "")
if(VIGIL_POSTGRES)
  get_filename_component(bindir ${VIGIL_POSTGRES} DIRECTORY)
endif()

add_executable(vigil_postgres_digests ${CMAKE_CURRENT_LIST_DIR}/postgres_digests.cpp)
target_link_libraries(vigil_postgres_digests PRIVATE vigil::vigil)
vigil_target_options(vigil_postgres_digests)

add_test(NAME vigil:fleet_postgres
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/postgres_test.sh
    --bindir "${bindir}" --require "${VIGIL_REQUIRE_POSTGRES}"
    --digests $<TARGET_FILE:vigil_postgres_digests> --work ${CMAKE_CURRENT_BINARY_DIR}/fleet_postgres)
set_tests_properties(vigil:fleet_postgres PROPERTIES TIMEOUT 180 LABELS fleet
  SKIP_REGULAR_EXPRESSION "postgresql not found: the PostgreSQL fleet test is skipped")
