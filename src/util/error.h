#pragma once
// One error type for everything the user can cause (bad files, bad input). The message carries
// its context (file, tensor, field) so that the one place that reports it can print it as is.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace dsv32 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace dsv32
