# expect_fault.cmake: cmake -DEXE=<emulated GPU test> -DENV=NAME=VALUE -DPATTERN=<regex> -P expect_fault.cmake
# Runs the test with ENV set (a self-test that breaks a contract on purpose) and passes only if the
# run exits 1 and its output matches PATTERN (the emulation's report of the violation): a pass, a
# crash or a missing report fails this test.
execute_process(COMMAND ${CMAKE_COMMAND} -E env ${ENV} ${EXE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "1")
  message(FATAL_ERROR "expected exit code 1 from the broken run, got '${rc}'")
endif()
if(NOT "${out}${err}" MATCHES "${PATTERN}")
  message(FATAL_ERROR "the violation was not reported (no match for '${PATTERN}')")
endif()
message(STATUS "the deliberate violation was caught")
