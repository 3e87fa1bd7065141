// A fast reader for the plain subset of TOML that large route files use; toml11 handles everything else.
#include "toml_fast.hpp"

#include <string>
#include <unordered_set>

namespace kiagateway {

namespace {

class plain_reader {
public:
    explicit plain_reader(std::string_view text) : text_(text) {}

    std::optional<toml::value> run();

private:
    bool at_end() const { return pos_ >= line_end_; }
    char peek() const { return text_[pos_]; }
    void skip_blanks() {
        while (!at_end() && (peek() == ' ' || peek() == '\t')) {
            ++pos_;
        }
    }
    // After a value or header: blanks, then an optional comment, then the end of the line.
    bool rest_is_empty() {
        skip_blanks();
        return at_end() || peek() == '#';
    }
    bool bare_key(std::string& out);
    bool plain_string(std::string& out);
    bool key(std::string& out) { return !at_end() && peek() == '"' ? plain_string(out) : bare_key(out); }
    bool value(toml::value& out);
    bool line();

    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t line_end_ = 0;
    toml::table root_;
    toml::table* current_ = &root_;
    std::unordered_set<std::string> headers_;
};

bool is_bare(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool plain_reader::bare_key(std::string& out) {
    const std::size_t start = pos_;
    while (!at_end() && is_bare(peek())) {
        ++pos_;
    }
    out.assign(text_.substr(start, pos_ - start));
    return !out.empty();
}

bool plain_reader::plain_string(std::string& out) {
    if (at_end() || peek() != '"') {
        return false;
    }
    const std::size_t start = ++pos_;
    while (!at_end() && peek() != '"') {
        // Escapes and anything toml11 might judge differently go the slow way.
        if (peek() == '\\') {
            return false;
        }
        ++pos_;
    }
    if (at_end()) {
        return false;
    }
    out.assign(text_.substr(start, pos_ - start));
    ++pos_;
    return true;
}

bool plain_reader::value(toml::value& out) {
    if (at_end()) {
        return false;
    }
    if (peek() == '"') {
        std::string s;
        if (!plain_string(s)) {
            return false;
        }
        out = toml::value(std::move(s));
        return true;
    }
    if (peek() == '[') {
        ++pos_;
        toml::array items;
        skip_blanks();
        while (!at_end() && peek() != ']') {
            std::string s;
            if (!plain_string(s)) {
                return false;
            }
            items.emplace_back(std::move(s));
            skip_blanks();
            if (!at_end() && peek() == ',') {
                ++pos_;
                skip_blanks();
            } else if (at_end() || peek() != ']') {
                return false;
            }
        }
        if (at_end()) {
            return false; // arrays spanning lines go to toml11
        }
        ++pos_;
        out = toml::value(std::move(items));
        return true;
    }
    // A decimal integer without sign, underscores or leading zeros, small enough to never overflow.
    const std::size_t start = pos_;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
        ++pos_;
    }
    const std::size_t digits = pos_ - start;
    if (digits == 0 || digits > 18 || (digits > 1 && text_[start] == '0')) {
        return false;
    }
    if (!at_end() && peek() != ' ' && peek() != '\t' && peek() != '#') {
        return false;
    }
    toml::value::integer_type number = 0;
    for (std::size_t i = start; i < pos_; ++i) {
        number = number * 10 + (text_[i] - '0');
    }
    out = toml::value(number);
    return true;
}

bool plain_reader::line() {
    skip_blanks();
    if (at_end() || peek() == '#') {
        return true;
    }
    if (peek() == '[') {
        ++pos_;
        skip_blanks();
        std::string name;
        if (!bare_key(name)) {
            return false; // [[arrays]], dotted or quoted headers
        }
        skip_blanks();
        if (at_end() || peek() != ']') {
            return false;
        }
        ++pos_;
        // A repeated header, or one naming a key already set, is toml11's to report.
        if (!rest_is_empty() || !headers_.insert(name).second || root_.count(name) != 0) {
            return false;
        }
        current_ = &root_.emplace(name, toml::value(toml::table{})).first->second.as_table();
        return true;
    }
    std::string name;
    if (!key(name)) {
        return false;
    }
    skip_blanks();
    if (at_end() || peek() != '=') {
        return false;
    }
    ++pos_;
    skip_blanks();
    toml::value v;
    if (!value(v) || !rest_is_empty()) {
        return false;
    }
    // A duplicate key is a TOML error: let toml11 report it with its place.
    return current_->emplace(std::move(name), std::move(v)).second;
}

std::optional<toml::value> plain_reader::run() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") {
        pos_ = 3;
    }
    while (pos_ < text_.size()) {
        std::size_t end = text_.find('\n', pos_);
        const std::size_t next = end == std::string_view::npos ? text_.size() : end + 1;
        if (end == std::string_view::npos) {
            end = text_.size();
        }
        // CRLF ends a line; a CR anywhere else (even last in the file) is toml11's to judge.
        if (end != text_.size() && end > pos_ && text_[end - 1] == '\r') {
            --end;
        }
        // Control characters (a lone CR included) and non-ASCII bytes are toml11's to judge.
        for (std::size_t i = pos_; i < end; ++i) {
            const auto c = static_cast<unsigned char>(text_[i]);
            if ((c < 0x20 && c != '\t') || c >= 0x7f) {
                return std::nullopt;
            }
        }
        line_end_ = end;
        if (!line()) {
            return std::nullopt;
        }
        pos_ = next;
    }
    return toml::value(std::move(root_));
}

} // namespace

std::optional<toml::value> parse_plain_toml(std::string_view text) { return plain_reader(text).run(); }

} // namespace kiagateway
