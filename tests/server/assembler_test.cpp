// SSE assembly: the chunk sequence of API.md §5 from engine events, split at awkward places.
#include <gtest/gtest.h>

#include "server/chat_assembler.h"
#include "server/completion_assembler.h"
#include "test_support.h"

namespace dsv32::server {
namespace {

using test::Json;

constexpr const char* kToolCompletion =
    "Need weather.</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n</｜DSML｜invoke>\n"
    "</｜DSML｜function_calls><｜end▁of▁sentence｜>";

// Feeds `text` in pieces of `piece` bytes (splitting characters and markers) as token events.
std::vector<Json> run(Assembler& assembler, const std::string& text, std::size_t piece,
                      engine::FinishReason finish = engine::FinishReason::Stop) {
  std::vector<Json> chunks;
  assembler.start(chunks);
  std::int32_t token = 100;
  for (std::size_t at = 0; at < text.size(); at += piece) {
    engine::TokenEvent event;
    event.token = token++;
    event.text = text.substr(at, piece);
    assembler.on_event(0, event, chunks);
  }
  engine::TokenEvent end;
  end.finish = finish;
  assembler.on_event(0, end, chunks);
  engine::RequestUsage usage;
  usage.prompt_tokens = 11;
  usage.cached_prompt_tokens = 4;
  usage.completion_tokens = token - 100;
  assembler.on_done(usage);
  return chunks;
}

ChatAssemblerOptions chat_options(bool thinking, bool tools) {
  ChatAssemblerOptions options;
  options.meta = {"chatcmpl-test", 1765000000, "deepseek-ai/deepseek-v3.2", true};
  options.thinking = thinking;
  options.tools_enabled = tools;
  options.id_seed = 7;
  return options;
}

TEST(ChatAssembler, ReasoningThenContentThenFinishThenUsage) {
  for (std::size_t piece : {1u, 3u, 7u, 1000u}) {
    ChatAssembler assembler(chat_options(true, false), *test::shared_tokenizer());
    const std::vector<Json> chunks =
        run(assembler, "The user asks 2+2.</think>2 + 2 = 4.<｜end▁of▁sentence｜>", piece);
    ASSERT_GE(chunks.size(), 4u);
    EXPECT_EQ(chunks.front()["choices"][0]["delta"], Json({{"role", "assistant"}, {"content", ""}}));
    std::string reasoning, content;
    bool content_started = false;
    for (std::size_t i = 1; i + 1 < chunks.size(); ++i) {
      const Json& delta = chunks[i]["choices"][0]["delta"];
      EXPECT_EQ(chunks[i]["id"], "chatcmpl-test");
      EXPECT_EQ(chunks[i]["object"], "chat.completion.chunk");
      EXPECT_TRUE(chunks[i].contains("usage") && chunks[i]["usage"].is_null());
      EXPECT_TRUE(delta.contains("content") && delta.contains("reasoning_content"));
      if (delta["reasoning_content"].is_string()) {
        EXPECT_FALSE(content_started) << "reasoning after content";
        reasoning += delta["reasoning_content"].get<std::string>();
      }
      if (delta["content"].is_string()) {
        content_started = true;
        content += delta["content"].get<std::string>();
      }
    }
    EXPECT_EQ(reasoning, "The user asks 2+2.") << piece;
    EXPECT_EQ(content, "2 + 2 = 4.") << piece;
    EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(chunks.back()["choices"][0]["delta"], Json::object());
    const Json usage = assembler.usage_chunk().value();
    EXPECT_EQ(usage["choices"], Json::array());
    EXPECT_EQ(usage["usage"]["prompt_tokens"], 11);
    EXPECT_EQ(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
    EXPECT_GT(usage["usage"]["completion_tokens_details"]["reasoning_tokens"].get<int>(), 0);
    const Json response = assembler.response();
    EXPECT_EQ(response["choices"][0]["message"]["reasoning_content"], "The user asks 2+2.");
    EXPECT_EQ(response["choices"][0]["message"]["content"], "2 + 2 = 4.");
  }
}

TEST(ChatAssembler, ToolCallDeltasConcatenateToTheFinalCall) {
  for (std::size_t piece : {1u, 5u, 1000u}) {
    ChatAssembler assembler(chat_options(true, true), *test::shared_tokenizer());
    const std::vector<Json> chunks = run(assembler, kToolCompletion, piece);
    std::string name, id, arguments, content;
    for (const Json& chunk : chunks) {
      const Json& delta = chunk["choices"][0]["delta"];
      if (delta.contains("content") && delta["content"].is_string()) content += delta["content"].get<std::string>();
      if (!delta.contains("tool_calls")) continue;
      const Json& call = delta["tool_calls"][0];
      EXPECT_EQ(call["index"], 0);
      if (call.contains("id")) {
        EXPECT_TRUE(id.empty()) << "id sent twice";
        id = call["id"];
        name = call["function"]["name"];
        EXPECT_EQ(call["type"], "function");
      }
      arguments += call["function"]["arguments"].get<std::string>();
    }
    EXPECT_EQ(content, "") << "DSML or its newlines leaked into content";
    EXPECT_EQ(name, "get_weather");
    EXPECT_EQ(id.rfind("call_", 0), 0u);
    EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "tool_calls");
    const Json message = assembler.response()["choices"][0]["message"];
    EXPECT_EQ(message["content"], nullptr);
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], arguments);
    EXPECT_EQ(message["tool_calls"][0]["id"], id);
    EXPECT_EQ(Json::parse(arguments), Json({{"city", "Paris"}}));
  }
}

TEST(ChatAssembler, ToolChoiceNoneNeverReturnsCalls) {
  ChatAssembler assembler(chat_options(true, false), *test::shared_tokenizer());
  const std::vector<Json> chunks = run(assembler, kToolCompletion, 4);
  for (const Json& chunk : chunks) EXPECT_FALSE(chunk["choices"][0]["delta"].contains("tool_calls"));
  EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "stop");
}

TEST(ChatAssembler, LengthAndEngineError) {
  ChatAssembler truncated(chat_options(false, false), *test::shared_tokenizer());
  EXPECT_EQ(run(truncated, "Hello", 2, engine::FinishReason::Length).back()["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(truncated.error());
  ChatAssembler failed(chat_options(false, false), *test::shared_tokenizer());
  run(failed, "Hello", 2, engine::FinishReason::Error);
  EXPECT_TRUE(failed.error());
}

TEST(ChatAssembler, NoUsageFieldsUnlessAsked) {
  ChatAssemblerOptions options = chat_options(false, false);
  options.meta.include_usage = false;
  ChatAssembler assembler(options, *test::shared_tokenizer());
  for (const Json& chunk : run(assembler, "Hi", 1)) EXPECT_FALSE(chunk.contains("usage"));
  EXPECT_FALSE(assembler.usage_chunk());
}

TEST(CompletionAssembler, TextChunksAndEcho) {
  CompletionAssemblerOptions options;
  options.meta = {"cmpl-test", 1, "m", false};
  options.prompts = {"Say: "};
  options.echo = true;
  CompletionAssembler assembler(options, *test::shared_tokenizer());
  const std::vector<Json> chunks = run(assembler, "abc<｜end▁of▁sentence｜>", 2);
  std::string text;
  for (const Json& chunk : chunks) text += chunk["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, "Say: abc");
  EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(assembler.response()["choices"][0]["text"], "Say: abc");
  EXPECT_EQ(assembler.response()["object"], "text_completion");
}

}  // namespace
}  // namespace dsv32::server
