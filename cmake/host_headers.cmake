# The MinGW cross build takes the header-only dependencies (Asio, toml11, CLI11, Catch2 v2) from the
# build machine's /usr/include. That folder can't go on the MinGW include path (glibc's headers
# would shadow MinGW's), so each dependency is exposed through a private folder of symlinks.
set(_kg_host_include /usr/include)
set(KG_HOST_HEADERS "${CMAKE_BINARY_DIR}/host-headers")
file(MAKE_DIRECTORY "${KG_HOST_HEADERS}")
foreach(entry asio.hpp asio toml.hpp toml CLI catch2)
    if(NOT EXISTS "${_kg_host_include}/${entry}")
        message(FATAL_ERROR "${_kg_host_include}/${entry} is missing: install libasio-dev libtoml11-dev "
                            "libcli11-dev catch2 (scripts/deps)")
    endif()
    if(NOT EXISTS "${KG_HOST_HEADERS}/${entry}")
        file(CREATE_LINK "${_kg_host_include}/${entry}" "${KG_HOST_HEADERS}/${entry}" SYMBOLIC)
    endif()
endforeach()

set(Asio_INCLUDE_DIR "${KG_HOST_HEADERS}" CACHE PATH "Asio headers (host, through symlinks)" FORCE)
foreach(dep IN ITEMS toml11::toml11 CLI11::CLI11 Catch2::Catch2)
    add_library(${dep} INTERFACE IMPORTED)
    set_target_properties(${dep} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${KG_HOST_HEADERS}")
endforeach()
# catch_discover_tests (Catch.cmake) is plain CMake: take it from the host's Catch2 package.
find_path(KG_CATCH_MODULE_DIR Catch.cmake PATHS /usr/lib/cmake/Catch2 /usr/share/cmake/Catch2
          /usr/lib/x86_64-linux-gnu/cmake/Catch2 NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
if(NOT KG_CATCH_MODULE_DIR)
    message(FATAL_ERROR "Catch.cmake not found: install catch2 (scripts/deps)")
endif()
list(APPEND CMAKE_MODULE_PATH "${KG_CATCH_MODULE_DIR}")
