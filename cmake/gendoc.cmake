# gendoc.cmake: cmake -DOPC=path/to/opc -DWHAT=man1|man5|bash -DOUT=file
# -P gendoc.cmake: OUT from `opc --doc WHAT`, and OUT.gz (gzip -9n, no
# name or time in it) beside a man page.  WHAT=help: OPC is a daemon or
# worker, and OUT its page in section 1 from its --help (the usage line,
# then what it does and its options), with VERSION.
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
set(ENV{ASAN_OPTIONS} "detect_leaks=0")
if(WHAT STREQUAL "help")
  execute_process(COMMAND "${OPC}" --help OUTPUT_VARIABLE h
    RESULT_VARIABLE rv)
  get_filename_component(name "${OPC}" NAME)
  if(NOT rv EQUAL 0 OR NOT h MATCHES "^usage: ([^\n]*)\n\n([^\n]*)\n")
    message(FATAL_ERROR "${OPC} --help: ${rv}, no usage line")
  endif()
  set(synopsis "${CMAKE_MATCH_1}")
  string(REGEX REPLACE "[.:]$" "" what "${CMAKE_MATCH_2}")
  string(SUBSTRING "${what}" 0 1 first)  # "runs one router instance ..."
  string(TOLOWER "${first}" first)
  string(REGEX REPLACE "^." "${first}" what "${what}")
  string(REGEX REPLACE "^usage: [^\n]*\n\n" "" body "${h}")
  string(TOUPPER "${name}" up)
  set(t "")
  foreach(v synopsis what body)     # roff: \ and - escaped, no leading .
    string(REPLACE "\\" "\\e" ${v} "${${v}}")
    string(REPLACE "-" "\\-" ${v} "${${v}}")
    string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" ${v} "${${v}}")
  endforeach()
  file(WRITE "${OUT}.tmp"
    ".\\\" ${name}(1): generated from `${name} --help`; do not edit.\n"
    ".TH ${up} 1 \"\" \"opcenter ${VERSION}\" \"opcenter\"\n"
    ".SH NAME\n${name} \\- ${what}\n"
    ".SH SYNOPSIS\n.nf\n${synopsis}\n.fi\n"
    ".SH DESCRIPTION\n.nf\n${body}.fi\n"
    ".SH SEE ALSO\n.BR opc (1),\n.BR opcenter.yaml (5)\n")
else()
  execute_process(COMMAND "${OPC}" --doc "${WHAT}" OUTPUT_FILE "${OUT}.tmp"
    RESULT_VARIABLE rv)
  if(NOT rv EQUAL 0)
    message(FATAL_ERROR "${OPC} --doc ${WHAT}: ${rv}")
  endif()
endif()
file(RENAME "${OUT}.tmp" "${OUT}")
if(NOT WHAT STREQUAL "bash")
  execute_process(COMMAND gzip -9nkf "${OUT}" RESULT_VARIABLE rv)
  if(NOT rv EQUAL 0)
    message(FATAL_ERROR "gzip ${OUT}: ${rv}")
  endif()
endif()
