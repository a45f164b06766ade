#include "chat/utf8.h"

#include <cstdint>

namespace dsv32::chat::utf8 {

std::size_t sequence_length(std::string_view s, bool& incomplete) {
  incomplete = false;
  if (s.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte (RFC 3629 table)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (std::size_t i = 1; i < need; ++i) {
    if (i >= s.size()) {
      incomplete = true;
      return 0;
    }
    const auto b = static_cast<unsigned char>(s[i]);
    const unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) return 0;
  }
  return need;
}

std::size_t complete_prefix_length(std::string_view s) {
  // A sequence is at most 4 bytes, so only the last 3 bytes can start an unfinished one.
  const std::size_t from = s.size() > 3 ? s.size() - 3 : 0;
  for (std::size_t i = from; i < s.size(); ++i) {
    bool incomplete = false;
    if (static_cast<unsigned char>(s[i]) >= 0xC0 && sequence_length(s.substr(i), incomplete) == 0 &&
        incomplete) {
      return i;
    }
  }
  return s.size();
}

namespace {

bool is_python_space(std::uint32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
  if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || cp == 0x2028 || cp == 0x2029) return true;
  if ((cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000) return true;
  return false;
}

}  // namespace

std::size_t leading_python_space(std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    bool incomplete = false;
    const std::size_t len = sequence_length(s.substr(pos), incomplete);
    if (len == 0) break;
    auto cp = static_cast<std::uint32_t>(static_cast<unsigned char>(s[pos]));
    if (len > 1) {
      cp &= 0x7Fu >> len;
      for (std::size_t i = 1; i < len; ++i) {
        cp = (cp << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3Fu);
      }
    }
    if (!is_python_space(cp)) break;
    pos += len;
  }
  return pos;
}

}  // namespace dsv32::chat::utf8
