# vigil_require_package(<name> <version> <debian-package> [find_package arguments...])
# finds a package vigil::vigil cannot work without, and stops configuration with a message
# that says what to install when it is missing or too old, instead of letting a consumer
# meet the gap as a missing header or an undefined reference much later.
macro(vigil_require_package name version debian_package)
  find_package(${name} ${version} QUIET ${ARGN})
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR
      "vigil needs ${name} ${version} or later, which CMake did not find.\n"
      "On Debian or Ubuntu: apt-get install ${debian_package}. Elsewhere, install ${name} "
      "and add its prefix to CMAKE_PREFIX_PATH (or set ${name}_DIR).")
  endif()
endmacro()
