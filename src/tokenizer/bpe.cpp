#include "tokenizer/bpe.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <queue>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace dsv32 {

namespace {

constexpr std::uint32_t kNoRank = std::numeric_limits<std::uint32_t>::max();

// Vocab text -> id for building the merge table: a flat open-addressing table of 8-byte
// (hash tag, index) slots. A load does 380k lookups; with std::unordered_map's node chasing
// they took half the load time. The hash is FNV-1a so that a merge's joined text can be hashed
// from its two halves without building it.
class VocabIndex {
 public:
  explicit VocabIndex(const std::vector<std::pair<std::string, TokenId>>& vocab) : vocab_(vocab) {
    int bits = 4;
    while ((std::size_t{1} << bits) < 2 * vocab.size()) ++bits;
    const std::size_t size = std::size_t{1} << bits;
    mask_ = size - 1;
    shift_ = 64 - bits;
    slots_.assign(size, Slot{0, -1});
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      const std::uint64_t h = hash(vocab[i].first);
      std::size_t s = slot(h);
      while (slots_[s].index >= 0) s = (s + 1) & mask_;
      slots_[s] = {tag(h), static_cast<std::int32_t>(i)};
    }
  }

  static std::uint64_t hash(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ull) {
    for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return h;
  }

  void prefetch(std::uint64_t h) const { __builtin_prefetch(&slots_[slot(h)]); }

  // The id of head + tail (tail may be empty) whose hash is h.
  std::optional<TokenId> find(std::uint64_t h, std::string_view head, std::string_view tail = {}) const {
    for (std::size_t s = slot(h); slots_[s].index >= 0; s = (s + 1) & mask_) {
      if (slots_[s].tag != tag(h)) continue;
      const std::string& text = vocab_[slots_[s].index].first;
      if (text.size() == head.size() + tail.size() && text.starts_with(head) && text.ends_with(tail)) {
        return vocab_[slots_[s].index].second;
      }
    }
    return std::nullopt;
  }
  std::optional<TokenId> find(std::string_view text) const { return find(hash(text), text); }

 private:
  struct Slot {
    std::uint32_t tag;
    std::int32_t index;  // into vocab_, -1 when empty
  };
  // FNV-1a mixes its low bits poorly: the slot comes from a multiplicative remix of the whole
  // hash; the tag (its low half) only screens string comparisons.
  std::size_t slot(std::uint64_t h) const { return std::size_t((h * 0x9E3779B97F4A7C15ull) >> shift_); }
  static std::uint32_t tag(std::uint64_t h) { return static_cast<std::uint32_t>(h); }

  const std::vector<std::pair<std::string, TokenId>>& vocab_;
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  int shift_ = 0;
};

}  // namespace

BpeModel::BpeModel(const TokenizerSpec& spec, const ByteLevelAlphabet& alphabet)
    : merges_(spec.merges.size()), ignore_merges_(spec.ignore_merges) {
  const VocabIndex id_of_text(spec.vocab);
  if (ignore_merges_) {
    for (const auto& [text, id] : spec.vocab) id_of_bytes_.emplace(alphabet.token_bytes(text), id);
  }

  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8::append_code_point(alphabet.char_of(static_cast<unsigned char>(b)), ch);
    const auto id = id_of_text.find(ch);
    if (!id) fail("tokenizer vocab lacks the byte-level token for byte 0x{:02X}", b);
    byte_token_[b] = *id;
  }

  // Hash every merge first, then look them up a few behind their prefetches, and insert them the
  // same way: the lookups are cache misses into 2-4 MB tables, and overlapping them halves the cost.
  const std::size_t count = spec.merges.size();
  std::vector<std::uint64_t> hashes(3 * count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto& [left, right] = spec.merges[i];
    hashes[3 * i] = VocabIndex::hash(left);
    hashes[3 * i + 1] = VocabIndex::hash(right);
    hashes[3 * i + 2] = VocabIndex::hash(right, hashes[3 * i]);
  }
  constexpr std::size_t kAhead = 16;
  std::vector<std::array<TokenId, 3>> resolved(count);  // left, right, merged
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kAhead < count) {
      for (int k = 0; k < 3; ++k) id_of_text.prefetch(hashes[3 * (i + kAhead) + k]);
    }
    const auto& [left, right] = spec.merges[i];
    const auto l = id_of_text.find(hashes[3 * i], left);
    const auto r = id_of_text.find(hashes[3 * i + 1], right);
    const auto m = id_of_text.find(hashes[3 * i + 2], left, right);
    if (!l || !r || !m) fail("tokenizer merge #{} \"{} {}\" uses a token missing from the vocab", i, left, right);
    resolved[i] = {*l, *r, *m};
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kAhead < count) merges_.prefetch(resolved[i + kAhead][0], resolved[i + kAhead][1]);
    merges_.insert(resolved[i][0], resolved[i][1], {static_cast<std::uint32_t>(i), resolved[i][2]});
  }
}

void BpeModel::encode(std::string_view piece, std::vector<TokenId>& out) const {
  if (ignore_merges_) {
    const auto it = id_of_bytes_.find(std::string(piece));
    if (it != id_of_bytes_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (piece.size() == 1) {
    out.push_back(byte_token_[static_cast<unsigned char>(piece[0])]);
  } else if (piece.size() <= kScanLimit) {
    encode_by_scan(piece, out);
  } else {
    encode_by_heap(piece, out);
  }
}

void BpeModel::encode_by_scan(std::string_view piece, std::vector<TokenId>& out) const {
  // symbols[i] and the rank/result of merging it with symbols[i + 1].
  if (piece.size() > kScanLimit) {
    encode_by_heap(piece, out);
    return;
  }
  std::array<TokenId, kScanLimit> symbols;
  std::array<MergeRule, kScanLimit> pair;
  std::size_t n = piece.size();
  auto rule_at = [&](std::size_t i) {
    const auto rule = merges_.find(symbols[i], symbols[i + 1]);
    return rule ? *rule : MergeRule{kNoRank, 0};
  };
  for (std::size_t i = 0; i < n; ++i) symbols[i] = byte_token_[static_cast<unsigned char>(piece[i])];
  for (std::size_t i = 0; i + 1 < n; ++i) pair[i] = rule_at(i);
  while (n > 1) {
    std::size_t best = 0;
    for (std::size_t i = 1; i + 1 < n; ++i) {
      if (pair[i].rank < pair[best].rank) best = i;
    }
    if (pair[best].rank == kNoRank) break;
    symbols[best] = pair[best].merged;
    for (std::size_t i = best + 1; i + 1 < n; ++i) {
      symbols[i] = symbols[i + 1];
      pair[i] = pair[i + 1];
    }
    --n;
    if (best + 1 < n) pair[best] = rule_at(best);
    if (best > 0) pair[best - 1] = rule_at(best - 1);
  }
  out.insert(out.end(), symbols.begin(), symbols.begin() + static_cast<std::ptrdiff_t>(n));
}

void BpeModel::encode_by_heap(std::string_view piece, std::vector<TokenId>& out) const {
  const std::size_t n = piece.size();
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  struct Symbol {
    TokenId id;
    std::size_t prev;
    std::size_t next;
    bool alive;
  };
  std::vector<Symbol> symbols(n);
  for (std::size_t i = 0; i < n; ++i) {
    symbols[i] = {byte_token_[static_cast<unsigned char>(piece[i])], i == 0 ? kNone : i - 1, i + 1 == n ? kNone : i + 1,
                  true};
  }
  // Candidate merges ordered by (rank, position): HF's BinaryHeap order. Stale entries are
  // recognised when popped, as HF does, by the pair no longer producing the same token.
  struct Candidate {
    std::uint32_t rank;
    std::size_t pos;
    TokenId merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](std::size_t pos) {
    if (pos == kNone || symbols[pos].next == kNone) return;
    if (const auto rule = merges_.find(symbols[pos].id, symbols[symbols[pos].next].id)) {
      heap.push({rule->rank, pos, rule->merged});
    }
  };
  for (std::size_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next == kNone) continue;
    const auto rule = merges_.find(left.id, symbols[left.next].id);
    if (!rule || rule->merged != top.merged) continue;
    Symbol& right = symbols[left.next];
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next != kNone) symbols[right.next].prev = top.pos;
    push(left.prev);
    push(top.pos);
  }
  for (std::size_t i = 0; i != kNone && i < n; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace dsv32
