#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util/error.h"

namespace dsv32 {

namespace {

constexpr std::string_view kWhiteSpaceSet =
    "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

std::string onig_to_pcre2(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        out += in_class ? std::string(kWhiteSpaceSet) : "[" + std::string(kWhiteSpaceSet) + "]";
      } else if (next == 'S') {
        if (in_class) fail("regex {}: \\S inside a character class is not supported", pattern);
        out += "[^" + std::string(kWhiteSpaceSet) + "]";
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' (or '^]') right after the opening bracket is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == '[') fail("regex {}: nested character classes are not supported", pattern);
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

RegexScratch::RegexScratch() : data_(pcre2_match_data_create(1, nullptr)) {
  if (data_ == nullptr) throw std::bad_alloc();
}

RegexScratch::~RegexScratch() { pcre2_match_data_free(data_); }

Regex::Regex(std::string_view pattern, bool literal) : pattern_(pattern) {
  const std::string translated = literal ? std::string(pattern) : onig_to_pcre2(pattern);
  const uint32_t options = PCRE2_UTF | PCRE2_NO_UTF_CHECK | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(), options, &error,
                        &offset, nullptr);
  if (code_ == nullptr) fail("regex {}: {} at offset {}", pattern_, pcre2_message(error), offset);
  // JIT makes matching several times faster; without it (unsupported CPU) the interpreter still works.
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() { pcre2_code_free(code_); }

Regex::Regex(Regex&& other) noexcept : code_(other.code_), pattern_(std::move(other.pattern_)) {
  other.code_ = nullptr;
}

Regex& Regex::operator=(Regex&& other) noexcept {
  std::swap(code_, other.code_);
  std::swap(pattern_, other.pattern_);
  return *this;
}

bool Regex::find(std::string_view subject, std::size_t start, RegexScratch& scratch, std::size_t& match_begin,
                 std::size_t& match_end) const {
  const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start,
                             PCRE2_NO_UTF_CHECK, scratch.get(), nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) fail("regex {}: matching failed: {}", pattern_, pcre2_message(rc));
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.get());
  match_begin = ovector[0];
  match_end = ovector[1];
  return true;
}

}  // namespace dsv32
