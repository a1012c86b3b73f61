# Every third-party lookup lives here (Debian packages only).
find_package(nng CONFIG REQUIRED)                 # target nng::nng
find_package(msgpack CONFIG QUIET)                # msgpack-c 4.x: msgpackc
if(NOT TARGET msgpackc)
  find_package(msgpack-c CONFIG REQUIRED)         # msgpack-c 6.x renamed
  add_library(msgpackc ALIAS msgpack-c)
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
find_package(Threads REQUIRED)
find_package(CURL REQUIRED)                       # target CURL::libcurl
