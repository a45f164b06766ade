// Every case of ../shared/tokenizer/encode.jsonl (ids from Hugging Face's own tokenizers library)
// must encode exactly and decode back to its text.
#include <atomic>
#include <thread>

#include "test_support.h"

namespace dsv32::test {
namespace {

TEST(GoldenEncode, EveryCaseOfEncodeJsonl) {
  const Tokenizer& tokenizer = real_tokenizer();
  const auto cases = read_jsonl(golden_dir() / "encode.jsonl");
  ASSERT_EQ(cases.size(), 480u);
  int failures = 0;
  for (const auto& [line, record] : cases) {
    const std::string text = record.at("text");
    const auto expected = ids_of(record.at("ids"));
    const auto ids = tokenizer.encode(text);
    EXPECT_EQ(ids, expected) << "encode.jsonl line " << line << " (" << record.at("cat") << "): " << record.at("text");
    EXPECT_EQ(tokenizer.decode(expected), text) << "decode of encode.jsonl line " << line;
    failures += ids != expected;
  }
  EXPECT_EQ(failures, 0);
}

// The lines whose characters are newer than Unicode 14 depend on the regex engine's Unicode
// tables: the reference (Oniguruma) knows 16.0, Debian 12's PCRE2 10.42 knows 14.0. The 17.0 and
// never-assigned lines must match; the 15.0-16.0 lines are the known, documented gap.
TEST(GoldenEncode, UnicodeVersionLines) {
  const Tokenizer& tokenizer = real_tokenizer();
  int matched = 0;
  for (const auto& [line, record] : read_jsonl(golden_dir() / "encode_unicode_version.jsonl")) {
    const std::string note = record.at("note");
    const auto ids = tokenizer.encode(record.at("text").get<std::string>());
    const bool same = ids == ids_of(record.at("ids"));
    matched += same;
    const bool engine_dependent = note.find("Unicode 15") != std::string::npos || note.find("Unicode 16") != std::string::npos;
    if (!engine_dependent) {
      EXPECT_TRUE(same) << "encode_unicode_version.jsonl line " << line << ": " << note;
    }
    // Whatever the classification, the text must survive the round trip.
    EXPECT_EQ(tokenizer.decode(ids), record.at("text").get<std::string>()) << "line " << line;
  }
  std::printf("encode_unicode_version.jsonl: %d of 24 lines match the reference\n", matched);
}

// One Tokenizer serves every server thread: encoding concurrently (sharing the piece cache)
// must give the golden ids in each thread.
TEST(GoldenEncode, ConcurrentEncodingAgrees) {
  const Tokenizer& tokenizer = real_tokenizer();
  tokenizer.clear_cache();
  const auto cases = read_jsonl(golden_dir() / "encode.jsonl");
  std::atomic<int> mismatches = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& record = cases[(i * 7 + t * 31) % cases.size()].second;
        if (tokenizer.encode(record.at("text").get<std::string>()) != ids_of(record.at("ids"))) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, 0);
}

// The two examples README.md spells out.
TEST(GoldenEncode, ReadmeExamples) {
  const Tokenizer& tokenizer = real_tokenizer();
  EXPECT_EQ(tokenizer.encode("<｜DSML｜function_calls>\n"), (std::vector<TokenId>{30, 128793, 8701, 4941, 12548, 1018}));
  EXPECT_EQ(tokenizer.encode("12345"), (std::vector<TokenId>{tokenizer.encode("123")[0], tokenizer.encode("45")[0]}));
  EXPECT_EQ(tokenizer.token_id("<｜begin▁of▁sentence｜>"), 0);
  EXPECT_EQ(tokenizer.token_id("<｜end▁of▁sentence｜>"), 1);
  EXPECT_EQ(tokenizer.token_id("｜DSML｜"), 128793);
  EXPECT_EQ(tokenizer.token_id("</think>"), 128799);
  EXPECT_EQ(tokenizer.id_count(), 128815u);
  EXPECT_TRUE(tokenizer.is_special(128793));
  EXPECT_FALSE(tokenizer.is_special(128798));
}

}  // namespace
}  // namespace dsv32::test
