#pragma once
// A compiled PCRE2 pattern (UTF + Unicode properties, JIT) for the Split pre-tokenizers.
// tokenizer.json patterns are written for Oniguruma (HF's regex engine); the one place where the
// two engines disagree for these patterns is \s, so onig_to_pcre2 spells it out.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;

namespace dsv32 {

// Rewrites \s and \S to Oniguruma's set: Unicode White_Space (U+0009-000D, U+0020, U+0085,
// U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000). PCRE2's own \s also
// matches U+180E, ICU's lacks U+000B and U+0085.
std::string onig_to_pcre2(std::string_view pattern);

// Per-thread scratch for matching: PCRE2 keeps results in a match-data block.
class RegexScratch {
 public:
  RegexScratch();
  ~RegexScratch();
  RegexScratch(const RegexScratch&) = delete;
  RegexScratch& operator=(const RegexScratch&) = delete;
  pcre2_real_match_data_8* get() const { return data_; }

 private:
  pcre2_real_match_data_8* data_;
};

class Regex {
 public:
  // `literal` compiles the text as a plain string (a Split with a String pattern).
  Regex(std::string_view pattern, bool literal);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Finds the first match in subject[start..]; subject must be valid UTF-8 (not rechecked) and is
  // the whole string lookarounds see. Returns false when there is none.
  bool find(std::string_view subject, std::size_t start, RegexScratch& scratch, std::size_t& match_begin,
            std::size_t& match_end) const;

 private:
  pcre2_real_code_8* code_ = nullptr;
  std::string pattern_;  // for error messages
};

}  // namespace dsv32
