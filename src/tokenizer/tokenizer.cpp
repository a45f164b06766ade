#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/piece_cache.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace dsv32 {

namespace {

enum TokenFlags : std::uint8_t { kValid = 1, kSpecial = 2 };

std::vector<const AddedTokenSpec*> added_tokens_where(const TokenizerSpec& spec, bool normalized) {
  std::vector<const AddedTokenSpec*> tokens;
  for (const AddedTokenSpec& t : spec.added_tokens) {
    if (t.normalized == normalized) tokens.push_back(&t);
  }
  return tokens;
}

}  // namespace

struct Tokenizer::Impl {
  explicit Impl(const TokenizerSpec& spec)
      : bpe(spec, alphabet),
        pre_tokenizer(spec.splits),
        raw_added(added_tokens_where(spec, false)),
        normalized_added(added_tokens_where(spec, true)) {
    TokenId max_id = 0;
    for (const auto& [text, id] : spec.vocab) max_id = std::max(max_id, id);
    for (const AddedTokenSpec& t : spec.added_tokens) max_id = std::max(max_id, t.id);
    token_bytes.resize(std::size_t(max_id) + 1);
    flags.assign(token_bytes.size(), 0);
    for (const auto& [text, id] : spec.vocab) {
      token_bytes[id] = alphabet.token_bytes(text);
      flags[id] = kValid;
    }
    // An added token's text wins over a vocab entry with the same id, as in HF's decode.
    for (const AddedTokenSpec& t : spec.added_tokens) {
      token_bytes[t.id] = alphabet.token_bytes(t.content);
      flags[t.id] = kValid | (t.special ? kSpecial : 0);
      added_ids.emplace(t.content, t.id);
    }
  }

  void encode_text(std::string_view text, std::size_t begin, std::size_t end, RegexScratch& scratch,
                   std::vector<Piece>& pieces, std::vector<TokenId>& out) const {
    pieces.clear();
    pre_tokenizer.split(text.substr(begin, end - begin), scratch, pieces);
    for (const Piece& p : pieces) {
      const std::string_view piece = text.substr(begin + p.begin, p.end - p.begin);
      if (piece.size() > PieceCache::kMaxPieceBytes) {
        bpe.encode(piece, out);
        continue;
      }
      if (cache.lookup(piece, out)) continue;
      const std::size_t first = out.size();
      bpe.encode(piece, out);
      cache.insert(piece, std::span<const TokenId>(out).subspan(first));
    }
  }

  void check_id(TokenId id) const {
    if (id < 0 || std::size_t(id) >= flags.size()) {
      fail("token id {} is out of range (valid ids are 0..{})", id, flags.size() - 1);
    }
    if (!(flags[id] & kValid)) fail("token id {} has no token in this tokenizer", id);
  }

  ByteLevelAlphabet alphabet;
  BpeModel bpe;
  PreTokenizer pre_tokenizer;
  AddedTokenMatcher raw_added;         // normalized=false: matched first, on the raw text
  AddedTokenMatcher normalized_added;  // normalized=true: matched in the gaps
  std::vector<std::string> token_bytes;
  std::vector<std::uint8_t> flags;
  std::unordered_map<std::string, TokenId> added_ids;
  mutable PieceCache cache;
};

Tokenizer::Tokenizer(const std::filesystem::path& tokenizer_json)
    : impl_(std::make_unique<Impl>(read_tokenizer_json(tokenizer_json))) {}

Tokenizer::Tokenizer(const TokenizerSpec& spec) : impl_(std::make_unique<Impl>(spec)) {}

Tokenizer::~Tokenizer() = default;

std::vector<TokenId> Tokenizer::encode(std::string_view text) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 1);
  encode(text, out);
  return out;
}

void Tokenizer::encode(std::string_view text, std::vector<TokenId>& out) const {
  if (const auto bad = utf8::first_invalid(text)) fail("text is not valid UTF-8 at byte {}", *bad);
  if (text.empty()) return;
  RegexScratch scratch;
  std::vector<AddedTokenMatch> raw_split;
  std::vector<AddedTokenMatch> split;
  std::vector<Piece> pieces;
  raw_split.reserve(16);
  split.reserve(16);
  impl_->raw_added.split(text, 0, text.size(), scratch, raw_split);
  for (const AddedTokenMatch& part : raw_split) {
    if (part.id >= 0) {
      split.push_back(part);
    } else {
      impl_->normalized_added.split(text, part.begin, part.end, scratch, split);
    }
  }
  for (const AddedTokenMatch& part : split) {
    if (part.id >= 0) {
      out.push_back(part.id);
    } else {
      impl_->encode_text(text, part.begin, part.end, scratch, pieces, out);
    }
  }
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (const TokenId id : ids) {
    impl_->check_id(id);
    if (skip_special_tokens && (impl_->flags[id] & kSpecial)) continue;
    bytes += impl_->token_bytes[id];
  }
  return utf8::decode_lossy(bytes);
}

std::string_view Tokenizer::token_bytes(TokenId id) const {
  impl_->check_id(id);
  return impl_->token_bytes[id];
}

bool Tokenizer::is_special(TokenId id) const {
  impl_->check_id(id);
  return impl_->flags[id] & kSpecial;
}

bool Tokenizer::is_valid(TokenId id) const {
  return id >= 0 && std::size_t(id) < impl_->flags.size() && (impl_->flags[id] & kValid);
}

std::size_t Tokenizer::id_count() const { return impl_->flags.size(); }

std::optional<TokenId> Tokenizer::token_id(std::string_view text) const {
  if (const auto it = impl_->added_ids.find(std::string(text)); it != impl_->added_ids.end()) return it->second;
  const auto& bytes = impl_->token_bytes;
  for (std::size_t id = 0; id < bytes.size(); ++id) {
    if ((impl_->flags[id] & kValid) && bytes[id] == text) return TokenId(id);
  }
  return std::nullopt;
}

void Tokenizer::clear_cache() const { impl_->cache.clear(); }

}  // namespace dsv32
