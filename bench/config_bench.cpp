// Benchmark (not a test): generates an N-route config, times load + validation, then route lookups.
// Usage: kiagateway_config_bench [routes=100000] [rounds=5]
#include "config.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::string generate(std::size_t routes) {
    std::string text = "[gateway]\nhttp_listen = [\"127.0.0.1:0\"]\nhttps_listen = [\"127.0.0.1:0\"]\n\n[backends]\n";
    text.reserve(routes * 48);
    for (std::size_t i = 0; i < routes; ++i) {
        // A tenth are wildcards, a tenth failover lists: the mix a large hosting config has.
        const std::string port = std::to_string(1024 + i % 60000);
        if (i % 10 == 0) {
            text += "\"*.tenant" + std::to_string(i) + ".example.net\" = \"10.0." + std::to_string(i % 256) +
                    ".1:" + port + "\"\n";
        } else if (i % 10 == 1) {
            text += "\"site" + std::to_string(i) + ".example.com\" = [\"10.1.0.1:" + port + "\", \"10.1.0.2:" + port +
                    "\"]\n";
        } else {
            text += "\"site" + std::to_string(i) + ".example.com\" = \"10.2.0.1:" + port + "\"\n";
        }
    }
    return text;
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t routes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
    const auto path = std::filesystem::temp_directory_path() / "kiagateway-bench-routes.toml";
    {
        std::ofstream out(path, std::ios::binary);
        out << generate(routes);
    }
    std::printf("config: %zu routes, %ju bytes (%s)\n", routes,
                static_cast<std::uintmax_t>(std::filesystem::file_size(path)), path.string().c_str());

    std::vector<double> load_times;
    std::shared_ptr<const kiagateway::route_table> table;
    for (int r = 0; r < rounds; ++r) {
        const auto start = clock_type::now();
        auto loaded = kiagateway::load_config_file(path.string());
        load_times.push_back(seconds_since(start));
        if (!loaded.ok()) {
            std::fprintf(stderr, "%s\n", loaded.errors.front().to_text().c_str());
            return 1;
        }
        table = loaded.cfg->http;
    }
    std::sort(load_times.begin(), load_times.end());
    std::printf("load+validate: median %.3f s, min %.3f s, max %.3f s over %d rounds\n",
                load_times[load_times.size() / 2], load_times.front(), load_times.back(), rounds);

    // Lookups: a mix of exact hits, wildcard hits and misses that fall through every suffix.
    std::vector<std::string> names;
    for (std::size_t i = 0; i < 4096; ++i) {
        const std::size_t n = (i * 7919) % routes;
        names.push_back(i % 3 == 0   ? "www.tenant" + std::to_string(n - n % 10) + ".example.net"
                        : i % 3 == 1 ? "site" + std::to_string(n | 2) + ".example.com"
                                     : "unknown" + std::to_string(n) + ".example.org");
    }
    std::size_t found = 0;
    const std::size_t lookups = 4'000'000;
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < lookups; ++i) {
        found += table->find(names[i & 4095]) != nullptr ? 1 : 0;
    }
    const double elapsed = seconds_since(start);
    std::printf("lookups: %.1f million/s (%zu of %zu routed)\n", static_cast<double>(lookups) / elapsed / 1e6, found,
                lookups);
    std::filesystem::remove(path);
    return 0;
}
