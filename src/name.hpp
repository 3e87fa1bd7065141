// Host names: normalisation and validation shared by the config loader, the sniffers and dry-run.
#pragma once

#include <string>
#include <string_view>

namespace kiagateway {

// ASCII lower case with one trailing dot removed: the form every name is compared in.
std::string normalise_name(std::string_view name);

// True for a DNS name in A-label (LDH) form: labels of 1-63 letters, digits and
// hyphens, no hyphen at either end of a label, at most 253 characters.
// `name` must already be normalised (no trailing dot).
bool is_dns_name(std::string_view name);

// Why `name` is not a DNS name, or an empty string when it is one.
std::string dns_name_problem(std::string_view name);

} // namespace kiagateway
