# FindAsio: standalone (non-Boost) Asio is header-only and ships no CMake package on Debian.
# Provides asio::asio, the target name vcpkg's asio port uses, so one CMakeLists serves both.
include(FindPackageHandleStandardArgs)

find_path(Asio_INCLUDE_DIR NAMES asio.hpp PATH_SUFFIXES asio/include)
if(Asio_INCLUDE_DIR AND EXISTS "${Asio_INCLUDE_DIR}/asio/version.hpp")
    file(STRINGS "${Asio_INCLUDE_DIR}/asio/version.hpp" _asio_version_line REGEX "#define ASIO_VERSION ")
    string(REGEX MATCH "[0-9]+" _asio_version "${_asio_version_line}")
    math(EXPR _asio_major "${_asio_version} / 100000")
    math(EXPR _asio_minor "${_asio_version} / 100 % 1000")
    math(EXPR _asio_patch "${_asio_version} % 100")
    set(Asio_VERSION "${_asio_major}.${_asio_minor}.${_asio_patch}")
endif()

find_package_handle_standard_args(Asio REQUIRED_VARS Asio_INCLUDE_DIR VERSION_VAR Asio_VERSION)

if(Asio_FOUND AND NOT TARGET asio::asio)
    find_package(Threads REQUIRED)
    add_library(asio::asio INTERFACE IMPORTED)
    set_target_properties(asio::asio PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Asio_INCLUDE_DIR}")
    target_compile_definitions(asio::asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
    target_link_libraries(asio::asio INTERFACE Threads::Threads)
    if(WIN32)
        target_link_libraries(asio::asio INTERFACE ws2_32 mswsock)
        target_compile_definitions(asio::asio INTERFACE _WIN32_WINNT=0x0A00)
    endif()
endif()
mark_as_advanced(Asio_INCLUDE_DIR)
