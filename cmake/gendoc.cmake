# gendoc.cmake: cmake -DOPC=path/to/opc -DWHAT=man1|man5|bash -DOUT=file
# -P gendoc.cmake: OUT from `opc --doc WHAT`, and OUT.gz (gzip -9n, no
# name or time in it) beside a man page.
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
set(ENV{ASAN_OPTIONS} "detect_leaks=0")
execute_process(COMMAND "${OPC}" --doc "${WHAT}" OUTPUT_FILE "${OUT}.tmp"
  RESULT_VARIABLE rv)
if(NOT rv EQUAL 0)
  message(FATAL_ERROR "${OPC} --doc ${WHAT}: ${rv}")
endif()
file(RENAME "${OUT}.tmp" "${OUT}")
if(NOT WHAT STREQUAL "bash")
  execute_process(COMMAND gzip -9nkf "${OUT}" RESULT_VARIABLE rv)
  if(NOT rv EQUAL 0)
    message(FATAL_ERROR "gzip ${OUT}: ${rv}")
  endif()
endif()
