# fce_add_test(NAME name SOURCES ... LABELS cpu|gpu [TIMEOUT s]): one executable per test file,
# exit code 77 = skipped (reported by ctest as "Not Run", never as passed).
function(fce_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE fce_test_util fce_core)
  fce_set_warnings(${T_NAME})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" SKIP_RETURN_CODE 77
                       TIMEOUT ${T_TIMEOUT})
endfunction()
