// The route table of one protocol: exact names, "*.suffix" wildcards and the "*" fallback.
#pragma once

#include "address.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiagateway {

struct route {
    std::string rule;                      // the config key, normalised: "example.com", "*.example.com", "*"
    std::vector<backend_address> backends; // tried in order
};

enum class rule_kind { exact, wildcard, fallback };

rule_kind kind_of_rule(std::string_view rule) noexcept;

// Immutable once built (a shared_ptr<const route_table> is what the gateway
// hands to connections), so lookups need no locks.
class route_table {
public:
    class builder;

    // The route for a normalised name (see normalise_name): an exact match,
    // else the wildcard with the longest matching suffix, else "*", else null.
    const route* find(std::string_view name) const;

    std::size_t exact_count() const noexcept { return exact_.size(); }
    std::size_t wildcard_count() const noexcept { return wildcard_.size(); }
    bool has_fallback() const noexcept { return fallback_ != nullptr; }
    std::size_t size() const noexcept { return exact_count() + wildcard_count() + (has_fallback() ? 1 : 0); }
    bool empty() const noexcept { return size() == 0; }

    // Every route, sorted by rule, for reports.
    std::vector<const route*> routes() const;

private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using map = std::unordered_map<std::string, route, string_hash, std::equal_to<>>;

    map exact_;
    map wildcard_; // keyed by the suffix after "*.", e.g. "example.com"
    std::unique_ptr<route> fallback_;
};

class route_table::builder {
public:
    // `rule` must be a normalised, valid key; a second add() of the same rule replaces the first
    // (the config loader has already reported such duplicates).
    void add(route r);
    void reserve(std::size_t exact_routes);
    std::shared_ptr<const route_table> build();

private:
    std::shared_ptr<route_table> table_ = std::make_shared<route_table>();
};

} // namespace kiagateway
