# Compiles prefetch_kept.cpp with CXX at -O2 to assembly and fails unless it holds a
# prefetch instruction (x86-64: prefetcht0; AArch64: prfm). Other processors are skipped.
# Arguments: -DCXX=compiler -DSOURCE=prefetch_kept.cpp -DINCLUDE=include dir -DWORK=dir
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND ${CXX} -dumpmachine OUTPUT_VARIABLE machine OUTPUT_STRIP_TRAILING_WHITESPACE)
if(machine MATCHES "^(x86_64|amd64)")
  set(instruction "prefetcht0")
elseif(machine MATCHES "^aarch64")
  set(instruction "prfm")
else()
  message("prefetch check skipped: no prefetch instruction known for ${machine}")
  return()
endif()
execute_process(COMMAND ${CXX} -std=c++17 -O2 -S -I ${INCLUDE} ${SOURCE} -o ${WORK}/prefetch_kept.s
                RESULT_VARIABLE result ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "compiling ${SOURCE} failed:\n${errors}")
endif()
file(READ ${WORK}/prefetch_kept.s assembly)
string(FIND "${assembly}" "${instruction}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${CXX} (${machine}) dropped the label store's prefetch: no ${instruction} in ${WORK}/prefetch_kept.s")
endif()
message("${CXX} (${machine}) keeps the label store's prefetch: ${instruction} found")
