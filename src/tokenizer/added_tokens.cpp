#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace dsv32 {

namespace {

std::size_t char_start_before(std::string_view s, std::size_t pos) {
  std::size_t i = pos - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<const AddedTokenSpec*>& tokens)
    : nodes_(1), word_char_("\\A\\w", false) {
  for (const AddedTokenSpec* token : tokens) {
    tokens_.push_back(*token);
    int node = 0;
    for (const char c : token->content) {
      const std::uint64_t key = (std::uint64_t(node) << 8) | static_cast<unsigned char>(c);
      auto [it, inserted] = edges_.emplace(key, int(nodes_.size()));
      if (inserted) nodes_.emplace_back();
      node = it->second;
    }
    // Two added tokens with the same text: the first one listed keeps it.
    if (nodes_[node].token < 0) nodes_[node].token = int(tokens_.size()) - 1;
    first_byte_[static_cast<unsigned char>(token->content[0])] = true;
  }
}

int AddedTokenMatcher::longest_at(std::string_view text, std::size_t pos) const {
  int node = 0;
  int best = -1;
  for (std::size_t i = pos; i < text.size(); ++i) {
    const auto it = edges_.find((std::uint64_t(node) << 8) | static_cast<unsigned char>(text[i]));
    if (it == edges_.end()) break;
    node = it->second;
    if (nodes_[node].token >= 0) best = nodes_[node].token;
  }
  return best;
}

bool AddedTokenMatcher::is_word_char_at(std::string_view sentence, std::size_t pos, RegexScratch& scratch) const {
  std::size_t b = 0;
  std::size_t e = 0;
  const std::size_t len = utf8::next_sequence(sentence.substr(pos)).length;
  return word_char_.find(sentence.substr(pos, len), 0, scratch, b, e);
}

bool AddedTokenMatcher::is_word_char_before(std::string_view sentence, std::size_t pos, RegexScratch& scratch) const {
  return is_word_char_at(sentence, char_start_before(sentence, pos), scratch);
}

void AddedTokenMatcher::split(std::string_view text, std::size_t begin, std::size_t end, RegexScratch& scratch,
                              std::vector<AddedTokenMatch>& out) const {
  const std::string_view sentence = text.substr(begin, end - begin);
  std::size_t gap_begin = 0;  // end of the previous match, relative to sentence
  std::size_t pos = 0;
  while (pos < sentence.size()) {
    const int index = first_byte_[static_cast<unsigned char>(sentence[pos])] ? longest_at(sentence, pos) : -1;
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedTokenSpec& token = tokens_[index];
    std::size_t start = pos;
    std::size_t stop = pos + token.content.size();
    if (token.single_word) {
      const bool word_before = start > 0 && is_word_char_before(sentence, start, scratch);
      const bool word_after = stop < sentence.size() && is_word_char_at(sentence, stop, scratch);
      if (word_before || word_after) {
        pos = stop;  // HF's match iterator resumes after the rejected match
        continue;
      }
    }
    if (token.lstrip) {
      while (start > gap_begin) {
        const std::size_t prev = char_start_before(sentence, start);
        if (!utf8::is_white_space(utf8::next_sequence(sentence.substr(prev)).code_point)) break;
        start = prev;
      }
    }
    if (token.rstrip) {
      while (stop < sentence.size()) {
        const utf8::Seq seq = utf8::next_sequence(sentence.substr(stop));
        if (!utf8::is_white_space(seq.code_point)) break;
        stop += seq.length;
      }
    }
    if (start > gap_begin) out.push_back({begin + gap_begin, begin + start, -1});
    out.push_back({begin + start, begin + stop, token.id});
    gap_begin = stop;
    pos = stop;
  }
  if (gap_begin < sentence.size()) out.push_back({begin + gap_begin, end, -1});
}

}  // namespace dsv32
