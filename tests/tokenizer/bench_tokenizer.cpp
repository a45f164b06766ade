// Tokenizer speed (a benchmark, not a test): encode throughput on ~1 MB of mixed text on one
// core, decode, and the cold load of tokenizer.json. Run pinned to one core:
//   taskset -c 0 build/tests/tokenizer/bench_tokenizer
// The corpus is built from files every Debian has or the build has: licence texts (English
// prose), libstdc++ headers (code), gettext catalogues (Chinese, Japanese, Korean, Russian,
// Arabic, Hindi, ... when installed) and the golden encode.jsonl (numbers, emoji, DSML, edge cases).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"
#include "tokenizer/utf8.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kCorpusBytes = 1'000'000;
constexpr std::size_t kDocumentBytes = 4096;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().string().ends_with(suffix)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The translated strings (msgstr) of a gettext .mo catalogue.
void append_mo_strings(const fs::path& path, std::string& out, std::size_t limit) {
  const std::string mo = slurp(path);
  auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    if (at + 4 <= mo.size()) std::memcpy(&v, mo.data() + at, 4);
    return v;
  };
  if (mo.size() < 28 || u32(0) != 0x950412de) return;
  const std::uint32_t count = u32(8);
  const std::uint32_t table = u32(16);
  for (std::uint32_t i = 0; i < count && out.size() < limit; ++i) {
    const std::uint32_t length = u32(table + 8 * i);
    const std::uint32_t offset = u32(table + 8 * i + 4);
    if (std::size_t(offset) + length > mo.size()) return;
    const std::string_view text(mo.data() + offset, length);
    if (!utf8::first_invalid(text)) out.append(text).append("\n");
  }
}

std::string take(const std::vector<fs::path>& files, std::size_t limit) {
  std::string out;
  for (const auto& file : files) {
    if (out.size() >= limit) break;
    const std::string text = slurp(file);
    if (!utf8::first_invalid(text)) out += text;
  }
  return out;
}

std::vector<std::string> split_documents(const std::string& text, std::size_t limit) {
  std::vector<std::string> docs;
  std::size_t pos = 0;
  std::size_t used = 0;
  while (pos < text.size() && used < limit) {
    std::size_t end = std::min(text.size(), pos + kDocumentBytes);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    docs.push_back(text.substr(pos, end - pos));
    used += end - pos;
    pos = end;
  }
  return docs;
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> docs = [] {
    std::vector<std::string> all;
    auto add = [&](const std::string& text, std::size_t limit) {
      for (auto& doc : split_documents(text, limit)) all.push_back(std::move(doc));
    };
    add(take(sorted_files("/usr/share/common-licenses", ""), 300'000), 300'000);
    add(take(sorted_files("/usr/include/c++/12/bits", ".h"), 300'000), 300'000);
    std::string intl;
    for (const char* lang : {"zh_CN", "ja", "ko", "ru", "ar", "hi", "el", "he", "th", "de", "fr", "vi"}) {
      std::string one;
      for (const auto& mo : sorted_files(fs::path("/usr/share/locale") / lang / "LC_MESSAGES", ".mo")) {
        append_mo_strings(mo, one, 25'000);
      }
      intl += one;
    }
    add(intl, 300'000);
    std::string golden;
    std::ifstream in(fs::path(DSV32_SHARED_DIR) / "tokenizer" / "encode.jsonl");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line).at("text"));
    std::size_t total = 0;
    for (const auto& doc : all) total += doc.size();
    for (std::size_t i = 0; total + golden.size() < kCorpusBytes && !lines.empty(); ++i) golden += lines[i % lines.size()] + "\n";
    add(golden, kCorpusBytes);
    std::shuffle(all.begin(), all.end(), std::mt19937(42));
    return all;
  }();
  return docs;
}

std::size_t corpus_bytes() {
  std::size_t total = 0;
  for (const auto& doc : corpus()) total += doc.size();
  return total;
}

const Tokenizer& tokenizer() {
  static const Tokenizer instance(find_tokenizer());
  return instance;
}

void report(benchmark::State& state, std::size_t bytes, std::size_t tokens) {
  state.SetBytesProcessed(std::int64_t(bytes) * state.iterations());
  state.counters["tokens"] = double(tokens);
  state.counters["bytes_per_token"] = double(bytes) / double(tokens);
}

// Every document once; the pre-token cache is warm after the first iteration (a server's state).
void BM_EncodeDocuments(benchmark::State& state) {
  const auto& docs = corpus();
  std::size_t tokens = 0;
  for (auto _ : state) {
    tokens = 0;
    for (const auto& doc : docs) tokens += tokenizer().encode(doc).size();
  }
  report(state, corpus_bytes(), tokens);
  std::size_t non_ascii = 0;
  for (const auto& doc : docs) non_ascii += std::count_if(doc.begin(), doc.end(), [](char c) { return c & 0x80; });
  state.counters["documents"] = double(docs.size());
  state.counters["non_ascii_fraction"] = double(non_ascii) / double(corpus_bytes());
}

// The same with the cache emptied before each pass: a freshly started process.
void BM_EncodeDocumentsColdCache(benchmark::State& state) {
  const auto& docs = corpus();
  std::size_t tokens = 0;
  for (auto _ : state) {
    tokenizer().clear_cache();
    tokens = 0;
    for (const auto& doc : docs) tokens += tokenizer().encode(doc).size();
  }
  report(state, corpus_bytes(), tokens);
}

void BM_EncodeOneString(benchmark::State& state) {
  std::string all;
  for (const auto& doc : corpus()) all += doc;
  std::size_t tokens = 0;
  for (auto _ : state) {
    tokenizer().clear_cache();
    tokens = tokenizer().encode(all).size();
  }
  report(state, all.size(), tokens);
}

void BM_DecodeDocuments(benchmark::State& state) {
  std::vector<std::vector<TokenId>> ids;
  for (const auto& doc : corpus()) ids.push_back(tokenizer().encode(doc));
  std::size_t tokens = 0;
  for (const auto& one : ids) tokens += one.size();
  for (auto _ : state) {
    for (const auto& one : ids) benchmark::DoNotOptimize(tokenizer().decode(one));
  }
  report(state, corpus_bytes(), tokens);
}

// Read + parse the 7.8 MB JSON + build every table, as at process start.
void BM_LoadTokenizerJson(benchmark::State& state) {
  const fs::path path = find_tokenizer();
  for (auto _ : state) {
    Tokenizer loaded(path);
    benchmark::DoNotOptimize(&loaded);
  }
}

BENCHMARK(BM_EncodeDocuments)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_EncodeDocumentsColdCache)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_EncodeOneString)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_DecodeDocuments)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadTokenizerJson)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace dsv32

BENCHMARK_MAIN();
