# add_service(name SOURCES a.c b.c): <name>_core static lib + binary.
# Tests link the _core library, never main.c (nng's nng_testing trick).
# Every core links opc_conf: its svc_def names its config table.
function(add_service name)
  cmake_parse_arguments(S "" "BIN" "SOURCES;LIBS" ${ARGN})
  if(NOT S_BIN)
    set(S_BIN opc-${name})
  endif()
  add_library(${name}_core STATIC ${S_SOURCES})
  target_link_libraries(${name}_core PUBLIC common opc_conf ${S_LIBS})
  target_include_directories(${name}_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  add_executable(${S_BIN} main.c)
  target_link_libraries(${S_BIN} PRIVATE ${name}_core)
  set_target_properties(${S_BIN} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()

# add_unit_test(name LIBS ...): one cmocka executable, one ctest entry.
function(add_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "LIBS;SOURCES" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${name}.c ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
  opc_test_env(${name})
endfunction()

# opc_test_env(name...): the environment every test runs in: LeakSanitizer
# skips the leaks of the libraries we link that tests/lsan.supp names.
function(opc_test_env)
  set_tests_properties(${ARGN} PROPERTIES ENVIRONMENT
    "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan.supp")
endfunction()
