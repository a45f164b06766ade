// Every record of ../shared/tokenizer/decode.jsonl: whole decodes, both streaming rules, and the
// bytes of every single-byte, added and partial-UTF-8 token.
#include "test_support.h"
#include "tokenizer/stream_decoder.h"

namespace dsv32::test {
namespace {

std::vector<std::pair<int, nlohmann::json>> records_of_kind(const std::string& kind) {
  std::vector<std::pair<int, nlohmann::json>> out;
  for (auto& [line, record] : read_jsonl(golden_dir() / "decode.jsonl")) {
    if (record.at("kind") == kind) out.emplace_back(line, std::move(record));
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (const char c : bytes) {
    hex += digits[static_cast<unsigned char>(c) >> 4];
    hex += digits[static_cast<unsigned char>(c) & 15];
  }
  return hex;
}

TEST(GoldenDecode, DecodeRecords) {
  const Tokenizer& tokenizer = real_tokenizer();
  const auto records = records_of_kind("decode");
  ASSERT_EQ(records.size(), 111u);
  for (const auto& [line, record] : records) {
    EXPECT_EQ(tokenizer.decode(ids_of(record.at("ids")), record.at("skip_special_tokens").get<bool>()),
              record.at("text").get<std::string>())
        << "decode.jsonl line " << line;
  }
}

TEST(GoldenDecode, StreamRecordsByteRule) {
  const Tokenizer& tokenizer = real_tokenizer();
  const auto records = records_of_kind("stream");
  ASSERT_EQ(records.size(), 43u);
  for (const auto& [line, record] : records) {
    SCOPED_TRACE("decode.jsonl line " + std::to_string(line));
    StreamDecoder stream(tokenizer, record.at("skip_special_tokens").get<bool>());
    const auto ids = ids_of(record.at("ids"));
    const auto& expected = record.at("byte_stream");
    ASSERT_EQ(expected.size(), ids.size());
    std::string total;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::string chunk = stream.step(ids[i]);
      EXPECT_EQ(chunk, expected[i].get<std::string>()) << "after id #" << i;
      total += chunk;
    }
    const std::string flush = stream.finish();
    EXPECT_EQ(flush, record.at("byte_stream_flush").get<std::string>());
    EXPECT_EQ(total + flush, record.at("text").get<std::string>());
    EXPECT_EQ(total + flush, tokenizer.decode(ids, record.at("skip_special_tokens").get<bool>()));
  }
}

TEST(GoldenDecode, StreamRecordsHfRule) {
  const Tokenizer& tokenizer = real_tokenizer();
  for (const auto& [line, record] : records_of_kind("stream")) {
    SCOPED_TRACE("decode.jsonl line " + std::to_string(line));
    HfDecodeStream stream(tokenizer, record.at("skip_special_tokens").get<bool>());
    const auto ids = ids_of(record.at("ids"));
    const auto& expected = record.at("hf_decode_stream");
    ASSERT_EQ(expected.size(), ids.size());
    std::string total;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto chunk = stream.step(ids[i]);
      if (expected[i].is_null()) {
        EXPECT_FALSE(chunk.has_value()) << "after id #" << i << " got \"" << chunk.value_or("") << "\"";
      } else {
        EXPECT_EQ(chunk, std::optional<std::string>(expected[i].get<std::string>())) << "after id #" << i;
      }
      total += chunk.value_or("");
    }
    const std::string text = record.at("text");
    if (record.at("hf_decode_stream_complete").get<bool>()) {
      EXPECT_EQ(total, text);
    } else {
      EXPECT_EQ(text.compare(0, total.size(), total), 0);
    }
  }
}

TEST(GoldenDecode, TokenBytesRecords) {
  const Tokenizer& tokenizer = real_tokenizer();
  const auto records = records_of_kind("token_bytes");
  ASSERT_EQ(records.size(), 2416u);
  for (const auto& [line, record] : records) {
    const TokenId id = record.at("id");
    EXPECT_EQ(to_hex(tokenizer.token_bytes(id)), record.at("hex").get<std::string>()) << "decode.jsonl line " << line;
    EXPECT_EQ(tokenizer.is_special(id), record.at("special").get<bool>()) << "decode.jsonl line " << line;
  }
}

}  // namespace
}  // namespace dsv32::test
