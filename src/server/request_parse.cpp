#include "server/request_parse.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "server/api_error.h"
#include "util/error.h"

namespace dsv32::server {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxChoices = 64;       // n: bounds the work one request can ask for
constexpr std::size_t kMaxStops = 16;  // as OpenAI (4) and vLLM (unbounded) bracket it

// The field, or nullptr when absent or null (clients send null for "not given").
const Json* field(const Json& body, const char* key) {
  const auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

double read_number(const Json& body, const char* key, double default_value, double lo, double hi,
                   bool lo_open = false) {
  const Json* value = field(body, key);
  if (value == nullptr) return default_value;
  if (!value->is_number()) throw bad_request(fmt::format("`{}` must be a number", key), key);
  const double number = value->get<double>();
  if (!std::isfinite(number) || number < lo || number > hi || (lo_open && number == lo)) {
    throw bad_request(fmt::format("`{}` must be in {}{}, {}]", key, lo_open ? "(" : "[", lo, hi), key);
  }
  return number;
}

// Integers; 3.0 is accepted as 3 (pydantic-based servers do the same), 3.5 is not.
std::int64_t read_int(const Json& body, const char* key, std::int64_t default_value, std::int64_t lo, std::int64_t hi) {
  const Json* value = field(body, key);
  if (value == nullptr) return default_value;
  double number = 0;
  if (value->is_number_integer()) {
    if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
      throw bad_request(fmt::format("`{}` must be at most {}", key, hi), key);
    }
    const std::int64_t integer = value->get<std::int64_t>();
    if (integer < lo || integer > hi) throw bad_request(fmt::format("`{}` must be in [{}, {}]", key, lo, hi), key);
    return integer;
  }
  if (value->is_number_float()) number = value->get<double>();
  if (!value->is_number() || !std::isfinite(number) || std::floor(number) != number) {
    throw bad_request(fmt::format("`{}` must be an integer", key), key);
  }
  if (number < static_cast<double>(lo) || number > static_cast<double>(hi)) {
    throw bad_request(fmt::format("`{}` must be in [{}, {}]", key, lo, hi), key);
  }
  return static_cast<std::int64_t>(number);
}

bool read_bool(const Json& body, const char* key, bool default_value) {
  const Json* value = field(body, key);
  if (value == nullptr) return default_value;
  if (!value->is_boolean()) throw bad_request(fmt::format("`{}` must be a boolean", key), key);
  return value->get<bool>();
}

std::string read_model(const Json& body, const ModelNames& models) {
  const Json* value = field(body, "model");
  if (value == nullptr) return models.primary();
  if (!value->is_string()) throw bad_request("`model` must be a string", "model");
  const std::string model = value->get<std::string>();
  if (!models.accepts(model)) throw model_not_found(model);
  return model;
}

std::vector<std::string> read_stop(const Json& body) {
  const Json* value = field(body, "stop");
  if (value == nullptr) return {};
  std::vector<std::string> stops;
  if (value->is_string()) {
    stops.push_back(value->get<std::string>());
  } else if (value->is_array()) {
    for (const Json& item : *value) {
      if (!item.is_string()) throw bad_request("`stop` must be a string or an array of strings", "stop");
      stops.push_back(item.get<std::string>());
    }
  } else {
    throw bad_request("`stop` must be a string or an array of strings", "stop");
  }
  if (stops.size() > kMaxStops) throw bad_request(fmt::format("`stop` has more than {} entries", kMaxStops), "stop");
  std::erase_if(stops, [](const std::string& stop) { return stop.empty(); });
  return stops;
}

std::map<std::int32_t, float> read_logit_bias(const Json& body) {
  const Json* value = field(body, "logit_bias");
  if (value == nullptr) return {};
  if (!value->is_object()) throw bad_request("`logit_bias` must be an object of token id -> bias", "logit_bias");
  std::map<std::int32_t, float> bias;
  for (const auto& [key, item] : value->items()) {
    std::int32_t id = -1;
    try {
      std::size_t used = 0;
      id = std::stoi(key, &used);
      if (used != key.size()) id = -1;
    } catch (const std::exception&) {
    }
    if (id < 0 || !item.is_number() || std::abs(item.get<double>()) > 100) {
      throw bad_request("`logit_bias` maps token ids to numbers in [-100, 100]", "logit_bias");
    }
    bias[id] = item.get<float>();
  }
  return bias;
}

// The sampling fields both endpoints share.
CommonParams read_common(const Json& body, const ModelNames& models) {
  CommonParams common;
  common.model = read_model(body, models);
  common.stream = read_bool(body, "stream", false);
  if (const Json* options = field(body, "stream_options")) {
    if (!options->is_object()) throw bad_request("`stream_options` must be an object", "stream_options");
    common.include_usage = read_bool(*options, "include_usage", false);
  }
  engine::SamplingParams& s = common.sampling;
  s.temperature = static_cast<float>(read_number(body, "temperature", 1.0, 0.0, 2.0));
  s.top_p = static_cast<float>(read_number(body, "top_p", 1.0, 0.0, 1.0, true));
  const std::int64_t top_k = read_int(body, "top_k", 0, -1, std::numeric_limits<std::int32_t>::max());
  s.top_k = static_cast<std::int32_t>(top_k < 0 ? 0 : top_k);
  s.min_p = static_cast<float>(read_number(body, "min_p", 0.0, 0.0, 1.0));
  s.presence_penalty = static_cast<float>(read_number(body, "presence_penalty", 0.0, -2.0, 2.0));
  s.frequency_penalty = static_cast<float>(read_number(body, "frequency_penalty", 0.0, -2.0, 2.0));
  s.repetition_penalty = static_cast<float>(read_number(body, "repetition_penalty", 1.0, 0.0, 2.0, true));
  if (field(body, "seed") != nullptr) {
    s.seed = static_cast<std::uint64_t>(
        read_int(body, "seed", 0, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()));
  }
  s.n = static_cast<std::int32_t>(read_int(body, "n", 1, 1, kMaxChoices));
  s.stop = read_stop(body);
  s.logit_bias = read_logit_bias(body);
  s.ignore_eos = read_bool(body, "ignore_eos", false);
  return common;
}

std::int64_t read_max_tokens(const Json& body, std::int64_t default_value) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  // Newer OpenAI SDKs send max_completion_tokens, LangChain max_tokens; the newer name wins.
  if (field(body, "max_completion_tokens") != nullptr) return read_int(body, "max_completion_tokens", -1, 1, kMax);
  return read_int(body, "max_tokens", default_value, 1, kMax);
}

}  // namespace

bool ModelNames::accepts(std::string_view name) const {
  for (const std::string& known : names) {
    if (known == name) return true;
  }
  return false;
}

Json parse_json_body(std::string_view body) {
  Json json = Json::parse(body.begin(), body.end(), nullptr, false);
  if (json.is_discarded()) throw bad_request("The request body is not valid JSON (or not valid UTF-8).");
  if (!json.is_object()) throw bad_request("The request body must be a JSON object.");
  if (const auto extra = json.find("extra_body"); extra != json.end() && extra->is_object()) {
    for (const auto& [key, value] : extra->items()) {
      if (!json.contains(key)) json[key] = value;
    }
  }
  return json;
}

ChatJob parse_chat_request(const Json& body, const ModelNames& models) {
  ChatJob job;
  job.common = read_common(body, models);
  job.common.sampling.max_tokens = read_max_tokens(body, -1);
  job.logprobs = read_bool(body, "logprobs", false);
  const std::int64_t top = read_int(body, "top_logprobs", 0, 0, 20);
  if (top > 0 && !job.logprobs) throw bad_request("`top_logprobs` needs `logprobs: true`", "top_logprobs");
  job.common.sampling.logprobs = job.logprobs ? static_cast<std::int32_t>(top) : -1;

  const Json* messages = field(body, "messages");
  if (messages == nullptr) throw bad_request("`messages` is required", "messages");
  if (!messages->is_array()) throw bad_request("`messages` must be an array", "messages");
  if (messages->empty()) throw bad_request("`messages` must not be empty", "messages");
  try {
    chat::RequestOptions options;
    options.accept_object_arguments = true;  // API.md §3: SHOULD accept an object as vLLM does
    job.chat = chat::render_chat_request(body, options);
  } catch (const Error& e) {
    throw bad_request(e.what(), "messages");
  } catch (const nlohmann::json::exception& e) {
    throw bad_request(fmt::format("invalid request: {}", e.what()), "messages");
  }
  return job;
}

CompletionJob parse_completion_request(const Json& body, const ModelNames& models) {
  CompletionJob job;
  job.common = read_common(body, models);
  job.common.sampling.max_tokens = read_max_tokens(body, 16);  // the OpenAI default for this endpoint
  job.echo = read_bool(body, "echo", false);
  const std::int64_t logprobs = read_int(body, "logprobs", -1, 0, 20);
  job.common.sampling.logprobs = static_cast<std::int32_t>(logprobs);

  const Json* prompt = field(body, "prompt");
  if (prompt == nullptr) throw bad_request("`prompt` is required", "prompt");
  if (prompt->is_string()) {
    job.prompts.push_back(prompt->get<std::string>());
  } else if (prompt->is_array() && !prompt->empty()) {
    for (const Json& item : *prompt) {
      if (!item.is_string()) throw bad_request("`prompt` must be a string or an array of strings", "prompt");
      job.prompts.push_back(item.get<std::string>());
    }
  } else {
    throw bad_request("`prompt` must be a string or a non-empty array of strings", "prompt");
  }
  if (job.prompts.size() * static_cast<std::size_t>(job.common.sampling.n) > kMaxChoices) {
    throw bad_request(fmt::format("prompts x n must be at most {}", kMaxChoices), "prompt");
  }
  return job;
}

void check_context(std::int64_t prompt_tokens, std::int64_t max_tokens, std::int64_t context_tokens) {
  if (prompt_tokens >= context_tokens) {
    throw context_too_long(fmt::format(
        "This model's maximum context length is {} tokens. However, your prompt contains {} tokens, "
        "which leaves no room for output.",
        context_tokens, prompt_tokens));
  }
  if (max_tokens > 0 && prompt_tokens + max_tokens > context_tokens) {
    throw context_too_long(fmt::format(
        "This model's maximum context length is {} tokens. However, you requested {} output tokens and "
        "your prompt contains {} input tokens, for a total of {} tokens. Please reduce the length of the "
        "input prompt or the number of requested output tokens.",
        context_tokens, max_tokens, prompt_tokens, prompt_tokens + max_tokens));
  }
}

}  // namespace dsv32::server
