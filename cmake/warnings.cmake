# kiagateway_warnings: the warning set (and sanitizers) every target of ours links, never a global flag.
add_library(kiagateway_warnings INTERFACE)
if(MSVC)
    target_compile_options(kiagateway_warnings INTERFACE /W4 /permissive- $<$<BOOL:${KG_WARNINGS_AS_ERRORS}>:/WX>)
else()
    target_compile_options(kiagateway_warnings INTERFACE
        -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
        -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
        $<$<BOOL:${KG_WARNINGS_AS_ERRORS}>:-Werror>)
    # GCC 12 reports -Wrestrict inside libstdc++'s std::string operator+ at -O2 (GCC bug 105329):
    # a false positive in a system header that -Werror would turn into a broken build.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 14)
        target_compile_options(kiagateway_warnings INTERFACE -Wno-restrict)
    endif()
endif()

if(KG_SANITIZE)
    if(MSVC)
        target_compile_options(kiagateway_warnings INTERFACE /fsanitize=${KG_SANITIZE})
    else()
        target_compile_options(kiagateway_warnings INTERFACE
            -fsanitize=${KG_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
        target_link_options(kiagateway_warnings INTERFACE -fsanitize=${KG_SANITIZE})
        if(KG_SANITIZE MATCHES "undefined")
            # UBSan's vptr check first asks whether the vtable is readable by writing it to a pipe;
            # out of descriptors (integration.Limits runs the gateway into EMFILE on purpose) that
            # fails and a valid object is reported as having an "invalid vptr".
            target_compile_options(kiagateway_warnings INTERFACE -fno-sanitize=vptr)
        endif()
    endif()
endif()

# libFuzzer needs coverage instrumentation in the code under test, not only in the fuzz target.
if(KG_BUILD_FUZZERS)
    target_compile_options(kiagateway_warnings INTERFACE -fsanitize=fuzzer-no-link)
endif()
