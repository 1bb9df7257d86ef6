# expect_fail.cmake: cmake -DEXE=<test_emu_kernels> -P expect_fail.cmake
# Runs the emulation test with one kernel result deliberately corrupted (--self-test-broken, only
# the `scale` cases) and passes only if the run reports that case as FAIL and exits with 1: a
# crash, a pass or a missing FAIL line fails this test.
execute_process(COMMAND ${EXE} --only scale --self-test-broken
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(NOT rc STREQUAL "1")
  message(FATAL_ERROR "expected exit code 1 from the broken run, got '${rc}'\n${err}")
endif()
if(NOT out MATCHES "self-test: corrupted" OR NOT out MATCHES "\nFAIL scale[^\n]*differ")
  message(FATAL_ERROR "the corrupted result was not reported as FAIL")
endif()
if(NOT out MATCHES "[0-9]+ cases, 1 failed")
  message(FATAL_ERROR "expected exactly one failed case")
endif()
message(STATUS "the deliberately broken kernel result was caught")
