// `dsv32 render-chat` and `dsv32 parse-output`, run as a user (or an outside check) runs them.
#include <sys/wait.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fixtures.h"
#include "parse_expect.h"

namespace dsv32::chat {
namespace {

using Json = nlohmann::ordered_json;

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

CliRun run_dsv32(const std::string& args, const std::string& input) {
  const std::filesystem::path dir = std::filesystem::path(DSV32_TEST_TMP) / "chat_cli";
  std::filesystem::create_directories(dir);
  const std::string tag = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::string safe;
  for (char c : tag) safe += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  const auto in = dir / (safe + ".in"), out = dir / (safe + ".out"), err = dir / (safe + ".err");
  std::ofstream(in, std::ios::binary) << input;
  const std::string command = std::string("'") + DSV32_BINARY + "' " + args + " < '" + in.string() + "' > '" +
                              out.string() + "' 2> '" + err.string() + "'";
  const int status = std::system(command.c_str());
  CliRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = testing::read_file(out.string());
  run.err = testing::read_file(err.string());
  return run;
}

class RenderChatCli : public ::testing::TestWithParam<Json> {};

TEST_P(RenderChatCli, PrintsPromptOrExitsTwo) {
  const Json& c = GetParam();
  const auto& call = c["encoder_call"];
  if (!call["drop_thinking"].get<bool>() || !call["add_default_bos_token"].get<bool>() || !c["encoder_context"].is_null()) {
    GTEST_SKIP() << "encoder options a request cannot express";
  }
  Json request = {{"model", "deepseek-ai/deepseek-v3.2"}, {"messages", c["messages"]}};
  if (!c["tools"].is_null()) request["tools"] = c["tools"];
  if (c["thinking"].get<bool>()) request["chat_template_kwargs"] = {{"thinking", true}};
  const CliRun run = run_dsv32("render-chat", request.dump());
  if (!c["request_valid"].get<bool>() || !c["expected_error"].is_null()) {
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_EQ(run.out, "");
    EXPECT_NE(run.err, "");
    return;
  }
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, c["expected_prompt"].get<std::string>());
  EXPECT_EQ(run.err, "");
}

INSTANTIATE_TEST_SUITE_P(ChatFixtures, RenderChatCli, ::testing::ValuesIn(testing::load_jsonl("encode.jsonl")),
                         testing::CaseName());

TEST(ChatRenderChatCliErrors, InvalidJsonExitsTwo) {
  const CliRun run = run_dsv32("render-chat", "{not json");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("JSON"), std::string::npos);
}

class ParseOutputCli : public ::testing::TestWithParam<Json> {};

ParsedMessage from_cli_json(const std::string& text) {
  const Json json = Json::parse(text);
  ParsedMessage message;
  message.reasoning_content = json["reasoning_content"].get<std::string>();
  if (!json["content"].is_null()) message.content = json["content"].get<std::string>();
  for (const auto& call : json["tool_calls"]) {
    EXPECT_EQ(call["type"], "function");
    EXPECT_TRUE(call["id"].get<std::string>().starts_with("call_"));
    message.tool_calls.push_back({0, call["id"], call["function"]["name"], call["function"]["arguments"]});
  }
  return message;
}

TEST_P(ParseOutputCli, PrintsTheParsedMessage) {
  const Json& c = GetParam();
  const std::string flags = c["thinking"].get<bool>() ? " --thinking" : "";
  const CliRun run = run_dsv32("parse-output" + flags, c["completion_text"].get<std::string>());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  testing::expect_message(from_cli_json(run.out), testing::lenient_expected(c));

  const CliRun strict = run_dsv32("parse-output --strict" + flags, c["completion_text"].get<std::string>());
  if (c["expected_error"].is_null()) {
    ASSERT_EQ(strict.exit_code, 0) << strict.err;
    testing::expect_message(from_cli_json(strict.out), c["expected"]);
  } else {
    EXPECT_EQ(strict.exit_code, 2);
    EXPECT_NE(strict.err.find(c["expected_error"]["message"].get<std::string>()), std::string::npos) << strict.err;
  }
}

INSTANTIATE_TEST_SUITE_P(ChatFixtures, ParseOutputCli, ::testing::ValuesIn(testing::load_jsonl("parse.jsonl")),
                         testing::CaseName());

}  // namespace
}  // namespace dsv32::chat
