add_test(NAME test_supervisor
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_supervisor.sh ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(test_supervisor PROPERTIES TIMEOUT 300)
