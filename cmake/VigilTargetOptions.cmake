# Warning and sanitizer flags for vigil's own targets (tests, examples, benchmarks, tools).
# They are set per target, never globally, so a consuming project's flags are its own.
function(vigil_target_options target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow)
    if(VIGIL_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(VIGIL_SANITIZE)
      target_compile_options(${target} PRIVATE -fsanitize=${VIGIL_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
      if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        # Sanitizer instrumentation makes g++'s maybe-uninitialized analysis report false
        # positives inside the standard library (std::regex, std::function).
        target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
      endif()
      target_link_options(${target} PRIVATE -fsanitize=${VIGIL_SANITIZE})
    endif()
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
    if(VIGIL_WERROR)
      target_compile_options(${target} PRIVATE /WX)
    endif()
  endif()
endfunction()
