#include "tokenizer/pre_tokenizer.h"

#include "tokenizer/utf8.h"

namespace dsv32 {

PreTokenizer::PreTokenizer(const std::vector<SplitSpec>& splits) {
  stages_.reserve(splits.size());
  for (const SplitSpec& split : splits) stages_.emplace_back(split.pattern, !split.is_regex);
}

void PreTokenizer::split(std::string_view text, RegexScratch& scratch, std::vector<Piece>& pieces) const {
  if (!text.empty()) split_stage(0, text, 0, scratch, pieces);
}

// `text` is one piece of the previous stage, starting at `base` in the original text.
void PreTokenizer::split_stage(std::size_t stage, std::string_view text, std::size_t base, RegexScratch& scratch,
                               std::vector<Piece>& pieces) const {
  if (stage == stages_.size()) {
    pieces.push_back({base, base + text.size()});
    return;
  }
  const Regex& regex = stages_[stage];
  std::size_t piece_begin = 0;  // start of the current gap
  std::size_t search = 0;
  std::size_t match_begin = 0;
  std::size_t match_end = 0;
  while (search <= text.size() && regex.find(text, search, scratch, match_begin, match_end)) {
    if (match_begin > piece_begin) {
      split_stage(stage + 1, text.substr(piece_begin, match_begin - piece_begin), base + piece_begin, scratch, pieces);
    }
    if (match_end > match_begin) {
      split_stage(stage + 1, text.substr(match_begin, match_end - match_begin), base + match_begin, scratch, pieces);
      search = match_end;
    } else {
      // An empty match splits here; the next search starts one character later.
      if (match_end == text.size()) break;
      search = match_end + utf8::next_sequence(text.substr(match_end)).length;
    }
    piece_begin = match_end;
  }
  if (piece_begin < text.size()) {
    split_stage(stage + 1, text.substr(piece_begin), base + piece_begin, scratch, pieces);
  }
}

}  // namespace dsv32
