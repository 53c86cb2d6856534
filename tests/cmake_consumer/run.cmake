# Installs vigil into a scratch prefix, then builds and runs two consumer projects: one uses
# find_package(vigil), the other add_subdirectory(vigil). Run by ctest.
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${VIGIL_BINARY_DIR} --prefix ${prefix})
foreach(kind find_package add_subdirectory)
  set(build ${WORK_DIR}/${kind})
  run(${CMAKE_COMMAND} -S ${VIGIL_SOURCE_DIR}/tests/cmake_consumer/${kind} -B ${build} -G ${GENERATOR}
      -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DVIGIL_SOURCE_DIR=${VIGIL_SOURCE_DIR})
  run(${CMAKE_COMMAND} --build ${build})
  run(${build}/consumer)
  message(STATUS "${kind} consumer: built and ran")
endforeach()
