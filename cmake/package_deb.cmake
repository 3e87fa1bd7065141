# The Debian package (CPack DEB): binary, systemd unit, sysusers/tmpfiles, man page, and
# /etc/kiagateway/servers.toml as a conffile. `cpack -G DEB` in a build folder makes it.
if(NOT UNIX OR APPLE)
    return()
endif()

install(FILES installer/linux/kiagateway.service DESTINATION lib/systemd/system)
install(FILES installer/linux/kiagateway.sysusers DESTINATION lib/sysusers.d RENAME kiagateway.conf)
install(FILES installer/linux/kiagateway.tmpfiles DESTINATION lib/tmpfiles.d RENAME kiagateway.conf)
install(FILES docs/man/man1/kiagateway.1 DESTINATION share/man/man1)
install(FILES README.md LICENSE docs/linux.md examples/servers.toml DESTINATION share/doc/kiagateway)
# Absolute on purpose: the config lives in /etc, whatever the prefix.
install(FILES installer/linux/servers.toml DESTINATION /etc/kiagateway)

set(CPACK_PACKAGE_NAME kiagateway)
set(CPACK_PACKAGE_VENDOR "kiagateway developers")
set(CPACK_PACKAGE_CONTACT "kiagateway developers <maintainers@kiagateway.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PROJECT_HOMEPAGE_URL}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/installer/linux/conffiles;${PROJECT_SOURCE_DIR}/installer/linux/postinst;${PROJECT_SOURCE_DIR}/installer/linux/prerm;${PROJECT_SOURCE_DIR}/installer/linux/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
include(CPack)
