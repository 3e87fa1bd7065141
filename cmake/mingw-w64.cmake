# Cross build for 64-bit Windows with MinGW-w64 (Debian: g++-mingw-w64-x86-64-posix).
# Tests run under wine through CMAKE_CROSSCOMPILING_EMULATOR (catch_discover_tests and ctest use it).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_kg_triplet x86_64-w64-mingw32)
# The -posix variants: std::thread and std::mutex need the winpthreads threading model.
set(CMAKE_C_COMPILER ${_kg_triplet}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_kg_triplet}-g++-posix)
set(CMAKE_RC_COMPILER ${_kg_triplet}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${_kg_triplet})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# cmake/wine-run keeps a wine prefix in the build tree and a wine server up between test runs.
set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_CURRENT_LIST_DIR}/wine-run;${CMAKE_BINARY_DIR}/wineprefix")
