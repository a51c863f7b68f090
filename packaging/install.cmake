# install.cmake: what `cmake --install` puts where, the man pages, and the Debian package.
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
#         -DRBGW_BUILD_TESTS=OFF && cmake --build build-deb && (cd build-deb && cpack -G DEB)
#
# gives rbgw_<version>_amd64.deb; scripts/package.sh does this with Debian's hardening flags and
# runs lintian.  The man pages are generated at build time from the configuration table that
# `rbgw --help` prints (man/mkman.c), so they cannot drift from the loader.
include(GNUInstallDirs)

# Man pages: man/*.in -> build/man/*.gz through rbgw_mkman.
add_executable(rbgw_mkman ${CMAKE_SOURCE_DIR}/man/mkman.c)
target_compile_options(rbgw_mkman PRIVATE ${RBGW_WARNINGS})
target_link_libraries(rbgw_mkman PRIVATE rbgw_core)
set(RBGW_MAN_PAGES rbgw.8 rbgw.conf.5)
set(RBGW_MAN_OUTPUTS)
foreach(page ${RBGW_MAN_PAGES})
    set(out ${CMAKE_BINARY_DIR}/man/${page})
    add_custom_command(OUTPUT ${out} ${out}.gz
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        COMMAND rbgw_mkman ${CMAKE_SOURCE_DIR}/man/${page}.in ${out} ${PROJECT_VERSION}
        COMMAND gzip -9nf -k ${out}
        DEPENDS rbgw_mkman ${CMAKE_SOURCE_DIR}/man/${page}.in
        COMMENT "man page ${page}")
    list(APPEND RBGW_MAN_OUTPUTS ${out} ${out}.gz)
    string(REGEX REPLACE ".*\\." "" section ${page})
    install(FILES ${out}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(rbgw_man ALL DEPENDS ${RBGW_MAN_OUTPUTS})

# Configuration and service.  With the prefix /usr (a package), GNUInstallDirs puts the
# configuration in /etc; the unit goes where Debian 12 keeps packaged units.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(RBGW_UNITDIR "/lib/systemd/system" CACHE PATH "where rbgw.service is installed")
else()
    set(RBGW_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
        CACHE PATH "where rbgw.service is installed")
endif()
install(FILES ${CMAKE_SOURCE_DIR}/config/rbgw-service.conf
    DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/rbgw RENAME rbgw.conf)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/systemd/rbgw.service DESTINATION ${RBGW_UNITDIR})

# Documentation: /usr/share/doc/rbgw (Debian's name for the package's doc directory).
set(RBGW_DOCDIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/rbgw)
set(RBGW_CHANGELOG_GZ ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
add_custom_command(OUTPUT ${RBGW_CHANGELOG_GZ}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
    COMMAND gzip -9nc ${CMAKE_SOURCE_DIR}/packaging/deb/changelog > ${RBGW_CHANGELOG_GZ}
    DEPENDS ${CMAKE_SOURCE_DIR}/packaging/deb/changelog)
add_custom_target(rbgw_changelog ALL DEPENDS ${RBGW_CHANGELOG_GZ})
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/deploy.md
    ${CMAKE_SOURCE_DIR}/docs/configuration.md ${CMAKE_SOURCE_DIR}/docs/fanout.md
    ${CMAKE_SOURCE_DIR}/packaging/deb/copyright ${RBGW_CHANGELOG_GZ}
    DESTINATION ${RBGW_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/config/rbgw.conf ${CMAKE_SOURCE_DIR}/config/pdns-pipe.conf
    ${CMAKE_SOURCE_DIR}/config/fanout.conf DESTINATION ${RBGW_DOCDIR}/examples)

# The Debian package.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "rbgw")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "rbgw developers <rbgw-maintainers@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "gateway for the PowerDNS remote backend")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "rbgw sits between PowerDNS Authoritative's remote backend and the programs
that answer it. pdns talks to rbgw over any remote-backend connector (pipe,
unix socket, HTTP, ZeroMQ) and rbgw forwards each call to one or more
responders over any connector, translating between them, with pools, routes,
retries and fan-out.
.
It runs as pdns's pipe co-process or as a daemon (systemd service included)
that pdns connects to.")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# https:// upstreams verify against the system CA store unless tls-ca= names a file.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "pdns-server, pdns-backend-remote")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/deb/conffiles ${CMAKE_SOURCE_DIR}/packaging/deb/postinst
    ${CMAKE_SOURCE_DIR}/packaging/deb/prerm ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_SOURCE_DIR}/packaging/cpack-check.cmake)
include(CPack)
