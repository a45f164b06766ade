// `dsv32 tokenize` and `dsv32 detokenize` as outside checks use them: stdin in, stdout out,
// errors as one line on stderr with exit code 1.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "test_support.h"

namespace dsv32::test {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

RunResult run_dsv32(const std::string& args, const std::string& stdin_bytes) {
  // ctest runs the cases of this file in parallel: each gets its own files.
  const fs::path dir = fs::path(DSV32_TEST_TMP) / ("cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "in", std::ios::binary) << stdin_bytes;
  const std::string command = std::string("'") + DSV32_BINARY + "' " + args + " < '" + (dir / "in").string() +
                              "' > '" + (dir / "out").string() + "' 2> '" + (dir / "err").string() + "'";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out"), slurp(dir / "err")};
}

std::string json_ids(const std::vector<TokenId>& ids) { return nlohmann::json(ids).dump(); }

TEST(TokenizeCli, GoldenCasesEncodeAndDecode) {
  // A sample of categories; the library test covers every line.
  std::vector<nlohmann::json> sample;
  for (const auto& [line, record] : read_jsonl(golden_dir() / "encode.jsonl")) {
    if (line % 40 == 1 || record.at("cat") == "dsml_chat") sample.push_back(record);
  }
  std::string all_text;
  std::vector<TokenId> all_ids;
  for (const auto& record : sample) {
    all_text += record.at("text").get<std::string>();
    const auto ids = ids_of(record.at("ids"));
    all_ids.insert(all_ids.end(), ids.begin(), ids.end());
  }
  const RunResult one = run_dsv32("tokenize", sample.front().at("text"));
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, json_ids(ids_of(sample.front().at("ids"))) + "\n");
  // Concatenating whole dsml prompts does not merge across them: check they round-trip instead.
  const RunResult many = run_dsv32("tokenize", all_text);
  ASSERT_EQ(many.exit_code, 0) << many.err;
  const RunResult back = run_dsv32("detokenize", many.out);
  EXPECT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out, all_text);
  const RunResult decoded = run_dsv32("detokenize", json_ids(all_ids));
  EXPECT_EQ(decoded.out, all_text);
}

TEST(TokenizeCli, EveryStdinByteCounts) {
  const RunResult r = run_dsv32("tokenize", "<｜User｜>hi</think>\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, json_ids(real_tokenizer().encode("<｜User｜>hi</think>\n")) + "\n");
  EXPECT_EQ(run_dsv32("tokenize", "").out, "[]\n");
  EXPECT_EQ(run_dsv32("detokenize", "[]").out, "");
}

TEST(TokenizeCli, SkipSpecialTokensAndExplicitTokenizer) {
  const std::string ids = "[0,19923,1]";
  EXPECT_EQ(run_dsv32("detokenize", ids).out, "<｜begin▁of▁sentence｜>Hello<｜end▁of▁sentence｜>");
  EXPECT_EQ(run_dsv32("detokenize --skip-special-tokens", ids).out, "Hello");
  const std::string tokenizer = "--tokenizer '" + default_tokenizer_path().string() + "' ";
  EXPECT_EQ(run_dsv32("tokenize " + tokenizer, "Hello").out, "[19923]\n");
  const RunResult missing = run_dsv32("tokenize --tokenizer /nonexistent/tokenizer.json", "Hello");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/tokenizer.json"), std::string::npos) << missing.err;
}

TEST(TokenizeCli, BadInputIsAClearError) {
  const RunResult utf8 = run_dsv32("tokenize", "ok \xC3\x28");
  EXPECT_EQ(utf8.exit_code, 1);
  EXPECT_EQ(utf8.err, "dsv32: error: text is not valid UTF-8 at byte 3\n");
  EXPECT_EQ(utf8.out, "");
  const RunResult range = run_dsv32("detokenize", "[1, 128815]");
  EXPECT_EQ(range.exit_code, 1);
  EXPECT_EQ(range.err, "dsv32: error: token id 128815 is out of range (valid ids are 0..128814)\n");
  const RunResult negative = run_dsv32("detokenize", "[-3]");
  EXPECT_EQ(negative.exit_code, 1);
  EXPECT_NE(negative.err.find("out of range"), std::string::npos) << negative.err;
  const RunResult huge = run_dsv32("detokenize", "[99999999999]");
  EXPECT_EQ(huge.exit_code, 1);
  EXPECT_NE(huge.err.find("out of range"), std::string::npos) << huge.err;
  for (const std::string bad : {"", "{}", "[1,", "[1.5]", "[\"a\"]", "[[1]]"}) {
    const RunResult r = run_dsv32("detokenize", bad);
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find("dsv32: error: stdin:"), std::string::npos) << bad << ": " << r.err;
  }
}

}  // namespace
}  // namespace dsv32::test
