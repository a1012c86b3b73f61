# install_conf.cmake: the files that name absolute paths, written at
# install time (cmake --install, cpack) for the prefix in effect then:
# the systemd unit, /etc/opcenter/opcenter.yaml and opcenter.env, and
# for the distribution's layout (prefix /usr, the .deb) Debian's
# copyright and changelog.  Set by Install.cmake: OPC_SRC, OPC_GEN,
# OPC_BINDIR, OPC_DOCDIR, OPC_VERSION, OPC_MAINTAINER.
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")        # as GNUInstallDirs: /etc, not /usr/etc
  set(SYSCONFDIR /etc)
  set(unitdir /lib/systemd/system) # bookworm's: no files moved to /usr
else()
  set(SYSCONFDIR "${prefix}/etc")
  set(unitdir "${prefix}/lib/systemd/system") # systemd reads /usr/local's
endif()
set(BINDIR "${prefix}/${OPC_BINDIR}")
file(MAKE_DIRECTORY "${OPC_GEN}")

configure_file("${OPC_SRC}/config/systemd/opc-supervisor.service.in"
  "${OPC_GEN}/opc-supervisor.service" @ONLY)
file(INSTALL DESTINATION "${unitdir}" TYPE FILE
  FILES "${OPC_GEN}/opc-supervisor.service")

# The default config (a conffile of the .deb): the demo constellation of
# config/opcenter.yaml with its state under /var/lib/opcenter, the unit's
# StateDirectory.  An operator's edited copy is never overwritten.
set(conf "$ENV{DESTDIR}${SYSCONFDIR}/opcenter/opcenter.yaml")
if(EXISTS "${conf}")
  message(STATUS "Kept: ${conf} (the packaged one is "
    "${prefix}/${OPC_DOCDIR}/examples/opcenter.yaml)")
else()
  file(READ "${OPC_SRC}/config/opcenter.yaml" y)
  string(REGEX REPLACE "^# opcenter.yaml - [^\n]*\n# [^\n]*\n"
    "# ${SYSCONFDIR}/opcenter/opcenter.yaml - the constellation opc-supervisor.service\n# runs (opcenter.yaml(5); `opc config explain` lists every setting): at\n# first the demo's, local board and stub backend (`opc demo`).\n" y "${y}")
  string(REPLACE "../state" "/var/lib/opcenter" y "${y}")
  string(REPLACE "# created by scripts/run.sh" "# created by opc demo" y "${y}")
  file(WRITE "${OPC_GEN}/opcenter.yaml" "${y}")
  file(INSTALL DESTINATION "${SYSCONFDIR}/opcenter" TYPE FILE
    FILES "${OPC_GEN}/opcenter.yaml")
endif()
# this host's OPC_ARGS and secrets: 0600, read by systemd as root
if(NOT EXISTS "$ENV{DESTDIR}${SYSCONFDIR}/opcenter/opcenter.env")
  file(INSTALL DESTINATION "${SYSCONFDIR}/opcenter" TYPE FILE
    PERMISSIONS OWNER_READ OWNER_WRITE RENAME opcenter.env
    FILES "${OPC_SRC}/config/systemd/opcenter.env.example")
endif()

if(prefix STREQUAL "/usr")
  file(INSTALL DESTINATION "${prefix}/${OPC_DOCDIR}" TYPE FILE
    FILES "${OPC_SRC}/config/debian/copyright")
  string(TIMESTAMP when "%a, %d %b %Y %H:%M:%S +0000" UTC) # SOURCE_DATE_EPOCH
  file(WRITE "${OPC_GEN}/changelog.Debian"
    "opcenter (${OPC_VERSION}-1) unstable; urgency=medium\n\n"
    "  * Built with cpack -G DEB from the opcenter source tree.\n\n"
    " -- ${OPC_MAINTAINER}  ${when}\n")
  execute_process(COMMAND gzip -9nf "${OPC_GEN}/changelog.Debian"
    RESULT_VARIABLE rv)
  if(NOT rv EQUAL 0)
    message(FATAL_ERROR "gzip changelog.Debian: ${rv}")
  endif()
  file(INSTALL DESTINATION "${prefix}/${OPC_DOCDIR}" TYPE FILE
    FILES "${OPC_GEN}/changelog.Debian.gz")
endif()
