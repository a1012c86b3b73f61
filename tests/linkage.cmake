# linkage.cmake - ctest test_linkage: run as
#   cmake -DREADELF=readelf -DLIST=linkage.txt -P linkage.cmake
# LIST has one program a line, "curl <path>" for a program that makes
# HTTP requests and must have libcurl among its NEEDED shared libraries,
# "none <path>" for one that must not (tests/CMakeLists.txt writes it
# from every program the build puts in bin/).  libcurl and the thirty
# libraries it pulls in cost an idle daemon about 6 MiB of resident pages,
# so a daemon that makes no request does not carry it; one that does
# links it, so a missing libcurl stops it at start, visible to ldd.
if(NOT READELF OR NOT LIST)
  message(FATAL_ERROR "usage: cmake -DREADELF=... -DLIST=... -P linkage.cmake")
endif()
file(STRINGS ${LIST} lines)
set(bad "")
set(n 0)
foreach(line IN LISTS lines)
  string(REGEX MATCH "^(curl|none) (.+)$" m "${line}")
  if(NOT m)
    message(FATAL_ERROR "${LIST}: bad line '${line}'")
  endif()
  set(want ${CMAKE_MATCH_1})
  set(path ${CMAKE_MATCH_2})
  get_filename_component(name ${path} NAME)
  execute_process(COMMAND ${READELF} -d ${path}
    RESULT_VARIABLE rv OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rv EQUAL 0)
    list(APPEND bad "${name}: readelf -d failed: ${err}")
    continue()
  endif()
  if(out MATCHES "\\(NEEDED\\)[^\n]*\\[libcurl[-.a-z0-9]*\\.so")
    set(has curl)
  else()
    set(has none)
  endif()
  if(want STREQUAL "curl" AND has STREQUAL "none")
    list(APPEND bad "${name}: makes HTTP requests but libcurl is not NEEDED")
  elseif(want STREQUAL "none" AND has STREQUAL "curl")
    list(APPEND bad "${name}: makes no HTTP request but libcurl is NEEDED")
  else()
    message(STATUS "${name}: libcurl ${has}")
  endif()
  math(EXPR n "${n} + 1")
endforeach()
if(n EQUAL 0 AND NOT bad)
  message(FATAL_ERROR "${LIST}: no programs")
endif()
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "linkage:\n  ${text}")
endif()
message(STATUS "linkage: ${n} programs as expected")
