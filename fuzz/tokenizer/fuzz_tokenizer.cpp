// libFuzzer target for the tokenizer (built with clang by tests/tokenizer/CMakeLists.txt, run by
// ctest for a bounded time). Checks, on the real DeepSeek-V3.2 tokenizer:
//  - encode: valid UTF-8 round-trips through decode exactly; invalid UTF-8 is a dsv32::Error;
//  - decode of arbitrary ids (the input read as 32-bit words): out-of-range ids are a
//    dsv32::Error, otherwise the text is valid UTF-8 and both streaming decoders agree with it.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace {

[[noreturn]] void crash(const char* what) {
  std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
  std::abort();
}

const dsv32::Tokenizer& tokenizer() {
  static const dsv32::Tokenizer instance(dsv32::find_tokenizer());
  return instance;
}

void check_encode(std::string_view text) {
  const bool valid = !dsv32::utf8::first_invalid(text);
  try {
    const auto ids = tokenizer().encode(text);
    if (!valid) crash("invalid UTF-8 was accepted");
    if (tokenizer().decode(ids) != text) crash("decode(encode(text)) != text");
  } catch (const dsv32::Error&) {
    if (valid) crash("valid UTF-8 was rejected");
  }
}

void check_decode(const std::vector<dsv32::TokenId>& ids, bool skip_special_tokens) {
  bool in_range = true;
  for (const auto id : ids) in_range = in_range && tokenizer().is_valid(id);
  std::string text;
  try {
    text = tokenizer().decode(ids, skip_special_tokens);
    if (!in_range) crash("an out-of-range id was accepted");
  } catch (const dsv32::Error&) {
    if (in_range) crash("valid ids were rejected");
    return;
  }
  if (dsv32::utf8::first_invalid(text)) crash("decode produced invalid UTF-8");
  dsv32::StreamDecoder stream(tokenizer(), skip_special_tokens);
  std::string streamed;
  for (const auto id : ids) {
    const std::string chunk = stream.step(id);
    if (dsv32::utf8::first_invalid(chunk)) crash("a stream chunk splits a character");
    streamed += chunk;
  }
  streamed += stream.finish();
  if (streamed != text) crash("streamed text != decoded text");
  dsv32::HfDecodeStream hf(tokenizer(), skip_special_tokens);
  std::string hf_text;
  for (const auto id : ids) {
    if (auto chunk = hf.step(id)) hf_text += *chunk;
  }
  if (text.compare(0, hf_text.size(), hf_text) != 0) crash("HF stream text is not a prefix of the decoded text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_encode(std::string_view(reinterpret_cast<const char*>(data), size));
  // Mostly in-range ids (mod a little past the end), some arbitrary 32-bit values.
  std::vector<dsv32::TokenId> ids;
  const auto count = static_cast<std::uint32_t>(tokenizer().id_count());
  for (std::size_t i = 0; i + 4 <= size && ids.size() < 256; i += 4) {
    std::uint32_t word = 0;
    std::memcpy(&word, data + i, 4);
    ids.push_back(static_cast<dsv32::TokenId>((word & 0x80000000u) ? word : word % (count + 8)));
  }
  check_decode(ids, size % 2 == 0);
  return 0;
}
