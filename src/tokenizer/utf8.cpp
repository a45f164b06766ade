#include "tokenizer/utf8.h"

namespace dsv32::utf8 {

namespace {

// The allowed range of the second byte depends on the lead byte (Unicode Table 3-7): this is
// what excludes overlong forms, surrogates and code points above U+10FFFF.
struct LeadInfo {
  std::size_t length;
  unsigned char second_lo;
  unsigned char second_hi;
};

std::optional<LeadInfo> lead_info(unsigned char b) {
  if (b >= 0xC2 && b <= 0xDF) return LeadInfo{2, 0x80, 0xBF};
  if (b == 0xE0) return LeadInfo{3, 0xA0, 0xBF};
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return LeadInfo{3, 0x80, 0xBF};
  if (b == 0xED) return LeadInfo{3, 0x80, 0x9F};
  if (b == 0xF0) return LeadInfo{4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return LeadInfo{4, 0x80, 0xBF};
  if (b == 0xF4) return LeadInfo{4, 0x80, 0x8F};
  return std::nullopt;
}

}  // namespace

Seq next_sequence(std::string_view bytes) {
  const auto b0 = static_cast<unsigned char>(bytes[0]);
  if (b0 < 0x80) return {SeqKind::kValid, 1, b0};
  const auto info = lead_info(b0);
  if (!info) return {SeqKind::kInvalid, 1, 0};
  char32_t cp = b0 & (info->length == 2 ? 0x1F : info->length == 3 ? 0x0F : 0x07);
  for (std::size_t i = 1; i < info->length; ++i) {
    if (i >= bytes.size()) return {SeqKind::kIncomplete, bytes.size(), 0};
    const auto b = static_cast<unsigned char>(bytes[i]);
    const unsigned char lo = i == 1 ? info->second_lo : 0x80;
    const unsigned char hi = i == 1 ? info->second_hi : 0xBF;
    if (b < lo || b > hi) return {SeqKind::kInvalid, i, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {SeqKind::kValid, info->length, cp};
}

std::optional<std::size_t> first_invalid(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    // ASCII runs are the common case; skip them eight bytes at a time.
    while (i + 8 <= bytes.size()) {
      std::uint64_t word = 0;
      for (int k = 0; k < 8; ++k) word |= std::uint64_t(static_cast<unsigned char>(bytes[i + k])) << (8 * k);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= bytes.size()) break;
    const Seq seq = next_sequence(bytes.substr(i));
    if (seq.kind != SeqKind::kValid) return i;
    i += seq.length;
  }
  return std::nullopt;
}

void append_lossy(std::string_view bytes, std::string& out) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    const Seq seq = next_sequence(bytes.substr(i));
    if (seq.kind == SeqKind::kValid) {
      out.append(bytes.substr(i, seq.length));
    } else {
      out.append(kReplacement);
    }
    i += seq.length;
  }
}

std::string decode_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_lossy(bytes, out);
  return out;
}

void append_code_point(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

}  // namespace dsv32::utf8
