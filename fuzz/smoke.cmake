# smoke.cmake - included by the top-level CMakeLists.txt (gcc or clang
# tree, OPC_TESTS and OPC_FUZZ on): builds fuzz/ in a second tree with
# clang (ExternalProject, rebuilt with every build) and registers one
# bounded ctest run per target.  Without a clang that links libFuzzer
# the fuzz_* tests fail with a message saying what to install; they are
# never skipped silently (OPC_FUZZ=OFF turns them off on purpose).
set(OPC_FUZZ_TARGETS msg cfg webhook plane github)
set(OPC_FUZZ_TREE ${CMAKE_BINARY_DIR}/fuzz)
set(OPC_FUZZ_SECONDS 20 CACHE STRING "seconds of each fuzz_* ctest run")

find_program(OPC_FUZZ_CC NAMES clang clang-14 clang-15 clang-16)
set(opc_fuzz_ok FALSE)
if(OPC_FUZZ_CC)
  set(probe ${CMAKE_BINARY_DIR}/CMakeFiles/fuzzprobe)
  file(WRITE ${probe}.c "#include <stddef.h>\n#include <stdint.h>\n"
    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
    "{ (void) d; (void) n; return (0); }\n")
  execute_process(COMMAND ${OPC_FUZZ_CC} -fsanitize=fuzzer,address,undefined
    ${probe}.c -o ${probe} RESULT_VARIABLE rv OUTPUT_QUIET ERROR_QUIET)
  if(rv EQUAL 0)
    set(opc_fuzz_ok TRUE)
  endif()
endif()

if(opc_fuzz_ok)
  include(ExternalProject)
  ExternalProject_Add(opc_fuzz
    SOURCE_DIR ${CMAKE_SOURCE_DIR}
    BINARY_DIR ${OPC_FUZZ_TREE}
    CMAKE_GENERATOR ${CMAKE_GENERATOR}
    CMAKE_ARGS -DCMAKE_C_COMPILER=${OPC_FUZZ_CC} -DOPC_FUZZ_BUILD=ON
      -DOPC_TESTS=OFF -DOPC_FUZZ=OFF -DSANITIZER=address,undefined
      -DCMAKE_BUILD_TYPE=RelWithDebInfo
    BUILD_COMMAND ${CMAKE_COMMAND} --build <BINARY_DIR> --target fuzz_all
    INSTALL_COMMAND ""
    BUILD_ALWAYS ON)
  foreach(t ${OPC_FUZZ_TARGETS})
    add_test(NAME fuzz_${t} COMMAND sh ${CMAKE_SOURCE_DIR}/fuzz/smoke.sh
      ${OPC_FUZZ_TREE}/bin/fuzz_${t} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${t}
      ${OPC_FUZZ_SECONDS} ${CMAKE_BINARY_DIR}/fuzz-crashes)
    set_tests_properties(fuzz_${t} PROPERTIES TIMEOUT 90)
  endforeach()
else()
  message(WARNING "OPC_FUZZ: no clang that links -fsanitize=fuzzer "
    "(apt-get install clang libclang-rt-14-dev); the fuzz_* tests will fail")
  foreach(t ${OPC_FUZZ_TARGETS})
    add_test(NAME fuzz_${t} COMMAND sh -c "echo 'fuzz_${t}: no clang with \
libFuzzer was found at configure time: apt-get install clang \
libclang-rt-14-dev (scripts/test.sh does), reconfigure, or set \
-DOPC_FUZZ=OFF' >&2; exit 1")
  endforeach()
endif()
