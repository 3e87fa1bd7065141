# The Windows installer: target `msi` makes kiagateway-<version>-x64.msi from installer/windows/kiagateway.wxs
# with wixl (msitools, on Linux) or WiX v3's candle and light (on Windows). Built by default when
# either is found, so the MinGW build's tests can install it under wine.
if(NOT WIN32)
    return()
endif()

find_program(KG_WIXL wixl)
find_program(KG_CANDLE candle HINTS "$ENV{WIX}/bin")
find_program(KG_LIGHT light HINTS "$ENV{WIX}/bin")
if(NOT KG_WIXL AND NOT (KG_CANDLE AND KG_LIGHT))
    message(STATUS "Neither wixl nor WiX v3 found: no msi target")
    return()
endif()

set(KG_MSI "${PROJECT_BINARY_DIR}/kiagateway-${PROJECT_VERSION}-x64.msi" CACHE INTERNAL "")
set(KG_MSI_STAGE "${PROJECT_BINARY_DIR}/msi-stage" CACHE INTERNAL "")
file(MAKE_DIRECTORY "${KG_MSI_STAGE}")
set(_wxs "${PROJECT_SOURCE_DIR}/installer/windows/kiagateway.wxs")
# The .wxs names its files relative to the folder the tool runs in: stage them there.
set(_stage_commands
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${KG_MSI_STAGE}"
    COMMAND "${CMAKE_COMMAND}" -E copy "$<TARGET_FILE:kiagateway>" "${KG_MSI_STAGE}/kiagateway.exe"
    COMMAND "${CMAKE_COMMAND}" -E copy "${PROJECT_SOURCE_DIR}/installer/windows/servers.toml" "${KG_MSI_STAGE}/servers.toml"
    COMMAND "${CMAKE_COMMAND}" -E copy "${PROJECT_SOURCE_DIR}/LICENSE" "${KG_MSI_STAGE}/LICENSE.txt"
    COMMAND "${CMAKE_COMMAND}" -E copy "${PROJECT_SOURCE_DIR}/README.md" "${KG_MSI_STAGE}/README.txt"
    COMMAND "${CMAKE_COMMAND}" -E copy "${PROJECT_SOURCE_DIR}/docs/windows.md" "${KG_MSI_STAGE}/windows.md")
if(KG_WIXL)
    # wixl cannot write everything the .wxs says: the fix-up adds the rest with msibuild.
    find_program(KG_MSIBUILD msibuild REQUIRED)
    set(_build_commands
        COMMAND "${KG_WIXL}" -a x64 -D "Version=${PROJECT_VERSION}" -D Wixl=1 -o "${KG_MSI}" "${_wxs}"
        COMMAND "${PROJECT_SOURCE_DIR}/installer/windows/wixl-fixup.sh" "${KG_MSI}")
else()
    set(_build_commands
        COMMAND "${KG_CANDLE}" -nologo -arch x64 "-dVersion=${PROJECT_VERSION}" -dWixl=0 -out "${KG_MSI_STAGE}/kiagateway.wixobj" "${_wxs}"
        COMMAND "${KG_LIGHT}" -nologo -out "${KG_MSI}" "${KG_MSI_STAGE}/kiagateway.wixobj")
endif()
add_custom_command(OUTPUT "${KG_MSI}"
    ${_stage_commands}
    ${_build_commands}
    WORKING_DIRECTORY "${KG_MSI_STAGE}"
    DEPENDS kiagateway "${_wxs}" installer/windows/servers.toml installer/windows/wixl-fixup.sh LICENSE README.md docs/windows.md
    COMMENT "Building the MSI")
add_custom_target(msi ALL DEPENDS "${KG_MSI}")
