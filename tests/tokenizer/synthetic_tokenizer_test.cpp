// A small hand-made tokenizer.json exercising what the DeepSeek file does not: added-token
// flags (lstrip, rstrip, single_word), both merge notations, String splits, and loader errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace dsv32 {
namespace {

using json = nlohmann::json;
using Ids = std::vector<TokenId>;

json added(TokenId id, const std::string& content, bool normalized, bool special, bool lstrip = false,
           bool rstrip = false, bool single_word = false) {
  return {{"id", id},         {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

// Byte b has id b; "ab" is 256 and "abc" 257 (merges "a b" then ["ab", "c"]).
json synthetic_json() {
  const ByteLevelAlphabet alphabet;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8::append_code_point(alphabet.char_of(static_cast<unsigned char>(b)), ch);
    vocab[ch] = b;
  }
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  return {
      {"version", "1.0"},
      {"added_tokens", json::array({added(300, "<tok>", false, true), added(301, "<tok>x", true, false),
                                    added(302, "[L]", false, true, /*lstrip=*/true),
                                    added(303, "[R]", false, true, false, /*rstrip=*/true),
                                    added(304, "[W]", true, false, false, false, /*single_word=*/true)})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"String", "|"}}}, {"behavior", "Isolated"}, {"invert", false}},
                                       {{"type", "Split"}, {"pattern", {{"Regex", "\\s+|\\S+"}}}, {"behavior", "Isolated"}, {"invert", false}},
                                       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", vocab}, {"merges", json::array({"a b", json::array({"ab", "c"})})}}},
  };
}

Ids bytes_of(std::string_view s) { return Ids(s.begin(), s.end()); }

class SyntheticTokenizer : public ::testing::Test {
 protected:
  SyntheticTokenizer() : tokenizer(parse_tokenizer_json(synthetic_json().dump(), "synthetic")) {}
  Tokenizer tokenizer;
};

TEST_F(SyntheticTokenizer, MergesInBothNotations) {
  EXPECT_EQ(tokenizer.encode("abc"), Ids{257});
  EXPECT_EQ(tokenizer.encode("abd"), (Ids{256, 'd'}));
  EXPECT_EQ(tokenizer.encode("ab ab|abc"), (Ids{256, ' ', 256, '|', 257}));
}

// HF matches normalized=false tokens first over the whole text, so "<tok>" wins over the longer
// normalized "<tok>x".
TEST_F(SyntheticTokenizer, RawAddedTokensAreMatchedBeforeNormalizedOnes) {
  EXPECT_EQ(tokenizer.encode("<tok>x"), (Ids{300, 'x'}));
  EXPECT_EQ(tokenizer.encode("<tok<tok>"), (Ids{'<', 't', 'o', 'k', 300}));
}

TEST_F(SyntheticTokenizer, LstripAndRstripAbsorbWhiteSpace) {
  EXPECT_EQ(tokenizer.encode("a  [L]b"), (Ids{'a', 302, 'b'}));
  EXPECT_EQ(tokenizer.encode("a\u3000[L]"), (Ids{'a', 302}));
  EXPECT_EQ(tokenizer.encode("a[R] \n b"), (Ids{'a', 303, 'b'}));
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("a  [L]b")), "a[L]b");
}

TEST_F(SyntheticTokenizer, SingleWordNeedsWordBoundaries) {
  EXPECT_EQ(tokenizer.encode("x [W] y"), (Ids{'x', ' ', 304, ' ', 'y'}));
  EXPECT_EQ(tokenizer.encode("[W]"), (Ids{304}));
  EXPECT_EQ(tokenizer.encode("x[W]"), bytes_of("x[W]"));
  EXPECT_EQ(tokenizer.encode("é[W]"), (Ids{0xC3, 0xA9, '[', 'W', ']'}));  // é is a word character
}

TEST_F(SyntheticTokenizer, SkipSpecialTokens) {
  const Ids ids{'a', 300, 301, 'b'};
  EXPECT_EQ(tokenizer.decode(ids), "a<tok><tok>xb");
  EXPECT_EQ(tokenizer.decode(ids, true), "a<tok>xb");
  EXPECT_EQ(tokenizer.id_count(), 305u);
  EXPECT_FALSE(tokenizer.is_valid(299));
  EXPECT_THROW(tokenizer.decode(Ids{299}), Error);
}

TEST(SyntheticLoader, RejectsWhatItDoesNotImplement) {
  auto message_of = [](const json& j) {
    try {
      Tokenizer tokenizer(parse_tokenizer_json(j.dump(), "t.json"));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  json j = synthetic_json();
  j["normalizer"] = {{"type", "NFC"}};
  EXPECT_NE(message_of(j).find("unsupported normalizer"), std::string::npos);
  j = synthetic_json();
  j["model"]["type"] = "WordPiece";
  EXPECT_NE(message_of(j).find("only BPE"), std::string::npos);
  j = synthetic_json();
  j["model"]["merges"].push_back("x y z");
  EXPECT_NE(message_of(j).find("merges entry"), std::string::npos);
  j = synthetic_json();
  j["model"]["merges"].push_back("q zz");
  EXPECT_NE(message_of(j).find("missing from the vocab"), std::string::npos);
  j = synthetic_json();
  j["pre_tokenizer"]["pretokenizers"][1]["pattern"]["Regex"] = "(unclosed";
  EXPECT_NE(message_of(j).find("(unclosed"), std::string::npos);
  j = synthetic_json();
  j["decoder"] = nullptr;
  EXPECT_NE(message_of(j).find("ByteLevel decoder"), std::string::npos);
  EXPECT_THROW(parse_tokenizer_json("{\"model\": [1,", "t.json"), Error);
  EXPECT_THROW(parse_tokenizer_json("", "t.json"), Error);
  EXPECT_THROW(read_tokenizer_json("/nonexistent/tokenizer.json"), Error);
}

}  // namespace
}  // namespace dsv32
