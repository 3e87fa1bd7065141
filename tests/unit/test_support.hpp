// Test-side compatibility: Catch2 v2 (Debian 12) and v3 (vcpkg, Homebrew) through one include.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef KG_TEST_DATA_DIR
#error "KG_TEST_DATA_DIR must name tests/data"
#endif

namespace kiagateway::test {

inline std::string data_path(const std::string& relative) { return std::string(KG_TEST_DATA_DIR) + "/" + relative; }

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot open " + path);
    }
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::vector<std::uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

// A substring matcher under its v2 and v3 names.
inline auto contains(const std::string& text) {
#if __has_include(<catch2/catch_all.hpp>)
    return Catch::Matchers::ContainsSubstring(text);
#else
    return Catch::Matchers::Contains(text);
#endif
}

} // namespace kiagateway::test
