// The route table of one protocol: exact names, "*.suffix" wildcards and the "*" fallback.
#include "route_table.hpp"

#include <algorithm>

namespace kiagateway {

rule_kind kind_of_rule(std::string_view rule) noexcept {
    if (rule == "*") {
        return rule_kind::fallback;
    }
    if (rule.size() > 2 && rule[0] == '*' && rule[1] == '.') {
        return rule_kind::wildcard;
    }
    return rule_kind::exact;
}

const route* route_table::find(std::string_view name) const {
    if (!name.empty()) {
        if (const auto it = exact_.find(name); it != exact_.end()) {
            return &it->second;
        }
        if (!wildcard_.empty()) {
            // "*.example.com" matches any name with at least one more label; walking
            // the suffixes from the longest gives "longest suffix wins" in O(labels).
            for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
                if (const auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) {
                    return &it->second;
                }
            }
        }
    }
    return fallback_.get();
}

std::vector<const route*> route_table::routes() const {
    std::vector<const route*> out;
    out.reserve(size());
    for (const auto& [key, r] : exact_) {
        out.push_back(&r);
    }
    for (const auto& [key, r] : wildcard_) {
        out.push_back(&r);
    }
    if (fallback_) {
        out.push_back(fallback_.get());
    }
    std::sort(out.begin(), out.end(), [](const route* a, const route* b) { return a->rule < b->rule; });
    return out;
}

void route_table::builder::reserve(std::size_t exact_routes) { table_->exact_.reserve(exact_routes); }

void route_table::builder::add(route r) {
    switch (kind_of_rule(r.rule)) {
    case rule_kind::fallback:
        table_->fallback_ = std::make_unique<route>(std::move(r));
        break;
    case rule_kind::wildcard: {
        std::string suffix = r.rule.substr(2);
        table_->wildcard_.insert_or_assign(std::move(suffix), std::move(r));
        break;
    }
    case rule_kind::exact: {
        std::string key = r.rule;
        table_->exact_.insert_or_assign(std::move(key), std::move(r));
        break;
    }
    }
}

std::shared_ptr<const route_table> route_table::builder::build() {
    auto out = std::move(table_);
    table_ = std::make_shared<route_table>();
    return out;
}

} // namespace kiagateway
