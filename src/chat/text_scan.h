#pragma once
// Marker search over a streaming buffer: the earliest complete marker, and how much of the
// buffer's end must be held back because it may be the start of one.
#include <cstddef>
#include <initializer_list>
#include <string_view>

namespace dsv32::chat::scan {

inline constexpr std::size_t kNone = static_cast<std::size_t>(-1);

struct Found {
  std::size_t pos = kNone;  // kNone: no marker complete in the buffer
  std::string_view marker;
};

inline Found find_first(std::string_view buf, std::initializer_list<std::string_view> markers,
                        std::size_t from = 0) {
  Found best;
  for (auto m : markers) {
    const std::size_t pos = buf.find(m, from);
    if (pos != std::string_view::npos && (best.pos == kNone || pos < best.pos)) best = {pos, m};
  }
  return best;
}

// Length of the longest suffix of buf that is a proper prefix of one of the markers.
inline std::size_t partial_length(std::string_view buf, std::initializer_list<std::string_view> markers) {
  std::size_t longest = 0;
  for (auto m : markers) {
    const std::size_t max_len = std::min(buf.size(), m.size() - 1);
    for (std::size_t len = max_len; len > longest; --len) {
      if (buf.substr(buf.size() - len) == m.substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

enum class Expect { kMatched, kPartial, kMismatch };

// Whether buf starts with one of the exact sequences (which one goes to `matched`), could
// still become one, or cannot.
inline Expect expect_one_of(std::string_view buf, std::initializer_list<std::string_view> options,
                            std::string_view& matched) {
  bool partial = false;
  for (auto o : options) {
    if (buf.starts_with(o)) {
      matched = o;
      return Expect::kMatched;
    }
    if (o.starts_with(buf)) partial = true;
  }
  return partial ? Expect::kPartial : Expect::kMismatch;
}

}  // namespace dsv32::chat::scan
