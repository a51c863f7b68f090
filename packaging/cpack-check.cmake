# cpack-check.cmake: read by cpack before it packs.  A Debian package needs the prefix /usr:
# /usr/bin/rbgw, /etc/rbgw/rbgw.conf and /lib/systemd/system/rbgw.service.
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "the Debian package needs a tree configured with "
                        "-DCMAKE_INSTALL_PREFIX=/usr (this one has "
                        "${CPACK_PACKAGING_INSTALL_PREFIX}); scripts/package.sh does that")
endif()
