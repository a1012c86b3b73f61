# Install.cmake: `cmake --install` and `cpack -G DEB` (README,
# "Installing").  Included last by the top CMakeLists (the targets exist).
#
# Relative destinations (GNUInstallDirs) follow the prefix: cmake --install
# --prefix /usr/local, or /usr in the .deb.  What names absolute paths
# (the unit's ExecStart, the config under /etc) is written at install
# time, when the prefix is known, by install_conf.cmake.
include(GNUInstallDirs)
set(OPC_DEB_MAINTAINER "opcenter maintainers <opcenter@example.com>"
  CACHE STRING "the .deb's Maintainer (and its changelog's)")

# Every program; they find each other side by side (exe_sibling).
set(OPC_PROGRAMS opc opc-supervisor opc-board-sync opc-router opc-executor
  opc-exec-run opc-git-credential opc-recorder opc-escalator opc-webhook
  opc-observer opc-observe-run opc-insighter opc-proposer opc-dash)
install(TARGETS ${OPC_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# opc(1), opcenter.yaml(5) and the bash completion: written at build time
# by `opc --doc` (services/opc/CMakeLists.txt).
install(FILES ${OPC_DOC_DIR}/opc.1.gz
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${OPC_DOC_DIR}/opcenter.yaml.5.gz
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
# and a page for each daemon and worker from its --help (not
# opc-git-credential: git runs it, it has no --help)
set(man_out)
foreach(p IN LISTS OPC_PROGRAMS)
  if(p STREQUAL "opc" OR p STREQUAL "opc-git-credential")
    continue()
  endif()
  set(m ${OPC_DOC_DIR}/man1/${p}.1)
  add_custom_command(OUTPUT ${m} ${m}.gz
    COMMAND ${CMAKE_COMMAND} -DOPC=$<TARGET_FILE:${p}> -DWHAT=help
      -DOUT=${m} -DVERSION=${PROJECT_VERSION}
      -P ${PROJECT_SOURCE_DIR}/cmake/gendoc.cmake
    DEPENDS ${p} ${PROJECT_SOURCE_DIR}/cmake/gendoc.cmake
    COMMENT "${p} --help > ${p}.1" VERBATIM)
  list(APPEND man_out ${m})
  install(FILES ${m}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endforeach()
add_custom_target(opc_man ALL DEPENDS ${man_out})
install(FILES ${OPC_DOC_DIR}/opc.bash RENAME opc
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES config/opcenter.example.yaml config/opcenter.multihost.yaml
  config/opcenter.yaml config/systemd/opcenter.env.example
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(CODE "set(OPC_SRC \"${PROJECT_SOURCE_DIR}\")
  set(OPC_GEN \"${CMAKE_BINARY_DIR}/install-gen\")
  set(OPC_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(OPC_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  set(OPC_VERSION \"${PROJECT_VERSION}\")
  set(OPC_MAINTAINER \"${OPC_DEB_MAINTAINER}\")")
install(SCRIPT cmake/install_conf.cmake)

# cpack -G DEB (in the build directory): opcenter_VERSION-1_ARCH.deb.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME opcenter)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${OPC_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/example/opcenter")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "autonomous software-engineering operations center
A constellation of small daemons on an nng message bus: tasks come from
a board (Plane or a local one), a router picks a lane, an executor runs a
coding-agent backend in a bubblewrap sandbox in an isolated git
workspace, validates, commits and opens the pull request, and a recorder
keeps the evidence of every step.  opc-supervisor.service runs this
host's share; it is installed disabled.")
# Depends: what the programs link (dpkg-shlibdeps), and what they run:
# git (workspaces), bwrap (the sandbox), useradd (postinst).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "bubblewrap, git, passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/config/debian/conffiles
  ${PROJECT_SOURCE_DIR}/config/debian/postinst
  ${PROJECT_SOURCE_DIR}/config/debian/prerm
  ${PROJECT_SOURCE_DIR}/config/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
