// Bad input to the real tokenizer: clear errors, never a crash or a silent guess.
#include "test_support.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/stream_decoder.h"
#include "util/error.h"

#include <random>

namespace dsv32::test {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(BadInput, InvalidUtf8IsRejectedWithItsOffset) {
  const Tokenizer& tokenizer = real_tokenizer();
  EXPECT_EQ(error_of([&] { tokenizer.encode("hello \xFF world"); }), "text is not valid UTF-8 at byte 6");
  EXPECT_EQ(error_of([&] { tokenizer.encode("\xED\xA0\x80"); }), "text is not valid UTF-8 at byte 0");  // surrogate
  EXPECT_EQ(error_of([&] { tokenizer.encode("ab\xE4\xB8"); }), "text is not valid UTF-8 at byte 2");    // truncated
  EXPECT_EQ(tokenizer.encode(""), std::vector<TokenId>{});
  EXPECT_EQ(tokenizer.encode(std::string_view("a\0b", 3)).size(), 3u);  // NUL is valid text
}

TEST(BadInput, OutOfRangeIdsAreErrors) {
  const Tokenizer& tokenizer = real_tokenizer();
  const std::string expected = "token id 128815 is out of range (valid ids are 0..128814)";
  EXPECT_EQ(error_of([&] { tokenizer.decode(std::vector<TokenId>{1, 128815}); }), expected);
  EXPECT_EQ(error_of([&] { tokenizer.decode(std::vector<TokenId>{-1}); }),
            "token id -1 is out of range (valid ids are 0..128814)");
  EXPECT_EQ(error_of([&] { tokenizer.token_bytes(1 << 30); }),
            "token id 1073741824 is out of range (valid ids are 0..128814)");
  StreamDecoder stream(tokenizer, false);
  EXPECT_EQ(error_of([&] { stream.step(128815); }), expected);
  HfDecodeStream hf_stream(tokenizer, false);
  EXPECT_EQ(error_of([&] { hf_stream.step(-5); }), "token id -5 is out of range (valid ids are 0..128814)");
  EXPECT_EQ(tokenizer.decode(std::vector<TokenId>{128814}), tokenizer.decode(std::vector<TokenId>{128814}));
}

TEST(BadInput, LongPiecesAndPathologicalText) {
  const Tokenizer& tokenizer = real_tokenizer();
  for (const std::string& text : {std::string(200000, 'a'), std::string(200000, ' '), std::string(100000, '9'),
                                  std::string(50000, '\n') + "x", std::string(30000, '<'), std::string("\xEF\xBC\x9C") + std::string(5000, '|')}) {
    const auto ids = tokenizer.encode(text);
    EXPECT_EQ(tokenizer.decode(ids), text);
  }
}

// The linear-scan merge used for short pieces and HF's heap merge must agree.
TEST(Bpe, ScanAndHeapMergesAgree) {
  const TokenizerSpec spec = read_tokenizer_json(find_tokenizer());
  const ByteLevelAlphabet alphabet;
  const BpeModel bpe(spec, alphabet);
  const std::vector<std::string> alphabet_pieces = {"a", "b", "e", "in", "th", " ", "  ", "0", "1", "中", "é", "\xF0\x9F\x98", "\x80", "s"};
  std::mt19937 rng(7);
  for (int round = 0; round < 20000; ++round) {
    std::string piece;
    const int parts = 1 + int(rng() % 16);
    for (int i = 0; i < parts; ++i) piece += alphabet_pieces[rng() % alphabet_pieces.size()];
    if (piece.size() > 48) piece.resize(48);
    std::vector<TokenId> by_scan;
    std::vector<TokenId> by_heap;
    bpe.encode_by_scan(piece, by_scan);
    bpe.encode_by_heap(piece, by_heap);
    ASSERT_EQ(by_scan, by_heap) << "piece \"" << piece << "\"";
  }
}

}  // namespace
}  // namespace dsv32::test
