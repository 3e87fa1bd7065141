// Names for the sniff result codes, for logs, dry-run output and test failure messages.
#include "sniff.hpp"

namespace kiagateway {

const char* to_string(sniff_status status) noexcept {
    switch (status) {
    case sniff_status::need_more:
        return "need_more";
    case sniff_status::found:
        return "found";
    case sniff_status::no_name:
        return "no_name";
    case sniff_status::invalid:
        return "invalid";
    }
    return "unknown";
}

const char* to_string(sniff_error error) noexcept {
    switch (error) {
    case sniff_error::none:
        return "none";
    case sniff_error::too_large:
        return "too_large";
    case sniff_error::too_many_records:
        return "too_many_records";
    case sniff_error::malformed:
        return "malformed";
    case sniff_error::bad_name:
        return "bad_name";
    case sniff_error::duplicate_name:
        return "duplicate_name";
    case sniff_error::missing_host:
        return "missing_host";
    }
    return "unknown";
}

} // namespace kiagateway
