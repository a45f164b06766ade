#include "tokenizer/stream_decoder.h"

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace dsv32 {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string StreamDecoder::step(TokenId id) {
  const std::string_view bytes = tokenizer_.token_bytes(id);  // throws for a bad id
  if (skip_special_tokens_ && tokenizer_.is_special(id)) return {};
  pending_ += bytes;
  std::string out;
  std::size_t i = 0;
  while (i < pending_.size()) {
    const utf8::Seq seq = utf8::next_sequence(std::string_view(pending_).substr(i));
    if (seq.kind == utf8::SeqKind::kIncomplete) break;  // may still complete: hold back
    if (seq.kind == utf8::SeqKind::kValid) {
      out.append(pending_, i, seq.length);
    } else {
      out += utf8::kReplacement;
    }
    i += seq.length;
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = utf8::decode_lossy(pending_);
  pending_.clear();
  return out;
}

HfDecodeStream::HfDecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::optional<std::string> HfDecodeStream::step(TokenId id) {
  ids_.push_back(id);
  const std::string text = tokenizer_.decode(ids_, skip_special_tokens_);
  const bool ends_in_replacement = text.size() >= utf8::kReplacement.size() &&
                                   text.compare(text.size() - utf8::kReplacement.size(), std::string::npos,
                                                utf8::kReplacement) == 0;
  if (text.size() <= prefix_.size() || ends_in_replacement) return std::nullopt;
  if (text.compare(0, prefix_.size(), prefix_) != 0) {
    fail("stream decode: the decoded text no longer starts with the text already emitted");
  }
  std::string new_text = text.substr(prefix_.size());
  // Keep only the ids after the old window start: their decode is the prefix of the next step.
  const std::size_t new_prefix_index = ids_.size() - prefix_index_;
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_ = tokenizer_.decode(ids_, skip_special_tokens_);
  prefix_index_ = new_prefix_index;
  return new_text;
}

}  // namespace dsv32
