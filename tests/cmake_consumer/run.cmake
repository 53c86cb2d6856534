# Builds and runs the two consumer projects with one compiler (CXX): find_package/ after
# vigil is installed into a scratch prefix, and add_subdirectory/ with vigil's source tree
# linked in as vigil/, where a server would keep it. Both use exactly the CMake lines of
# README.md. Run by ctest, once per compiler (tests/CMakeLists.txt).
#   cmake -DVIGIL_SOURCE_DIR=... -DVIGIL_BINARY_DIR=... -DWORK_DIR=... -DCXX=... -DGENERATOR=...
#         -P run.cmake
foreach(variable VIGIL_SOURCE_DIR VIGIL_BINARY_DIR WORK_DIR CXX GENERATOR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run.cmake: -D${variable}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  string(STRIP "${out}" out)
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# The projects are copied out of the source tree so that the add_subdirectory one can hold
# vigil/ next to its CMakeLists.txt without adding anything to vigil's own tree.
file(REMOVE_RECURSE ${WORK_DIR})
set(sources ${WORK_DIR}/src)
set(consumer_dir ${VIGIL_SOURCE_DIR}/tests/cmake_consumer)
file(COPY ${consumer_dir}/consumer.cpp ${consumer_dir}/find_package ${consumer_dir}/add_subdirectory
  DESTINATION ${sources})
file(CREATE_LINK ${VIGIL_SOURCE_DIR} ${sources}/add_subdirectory/vigil SYMBOLIC)

set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${VIGIL_BINARY_DIR} --prefix ${prefix})
foreach(kind find_package add_subdirectory)
  set(build ${WORK_DIR}/${kind})
  run(${CMAKE_COMMAND} -S ${sources}/${kind} -B ${build} -G ${GENERATOR}
      -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix})
  run(${CMAKE_COMMAND} --build ${build})
  run(${build}/my_server)
  message(STATUS "${kind} consumer built with ${CXX}: ${run_output}")
endforeach()
