#include "tokenizer/tokenizer_json.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace dsv32 {

namespace {

using json = nlohmann::json;

// Builds a DOM for everything except model.vocab and model.merges, which go into the spec.
class TokenizerSax final : public nlohmann::json_sax<json> {
 public:
  TokenizerSax(TokenizerSpec& spec, json& root, const std::string& source)
      : spec_(spec), root_(root), source_(source) {}

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) fail("{}: model.vocab[\"{}\"] is negative", source_, key_);
    return value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) {
      if (v > 0x7FFFFFFF) fail("{}: model.vocab[\"{}\"] = {} is too large", source_, key_, v);
      spec_.vocab.emplace_back(std::move(key_), static_cast<TokenId>(v));
      return true;
    }
    return value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override {
    if (mode_ == Mode::kMerges) {
      if (depth_in_mode_ == 2) {
        pair_.push_back(std::move(v));
      } else {
        const auto space = v.find(' ');
        if (space == std::string::npos || v.find(' ', space + 1) != std::string::npos) {
          fail("{}: model.merges entry \"{}\" is not two tokens separated by one space", source_, v);
        }
        spec_.merges.emplace_back(v.substr(0, space), v.substr(space + 1));
      }
      return true;
    }
    return value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return true; }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }

  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    fail("{}: invalid JSON at byte {}: {}", source_, position, e.what());
  }

 private:
  enum class Mode { kDom, kVocab, kMerges };

  bool value(json&& v) {
    if (mode_ != Mode::kDom) fail("{}: unexpected value in model.{}", source_, mode_ == Mode::kVocab ? "vocab" : "merges");
    insert(std::move(v));
    return true;
  }

  json* insert(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_object()) return &(parent[key_] = std::move(v));
    parent.push_back(std::move(v));
    return &parent.back();
  }

  bool open(json&& container) {
    if (mode_ != Mode::kDom) {
      ++depth_in_mode_;
      if (mode_ == Mode::kVocab || depth_in_mode_ > 2 || container.is_object()) {
        fail("{}: unexpected nesting in model.{}", source_, mode_ == Mode::kVocab ? "vocab" : "merges");
      }
      pair_.clear();
      return true;
    }
    // The parent is the "model" object at depth 1: divert its vocab and merges.
    const bool in_model = stack_.size() == 2 && stack_[1] == model_;
    if (in_model && key_ == "vocab" && container.is_object()) {
      mode_ = Mode::kVocab;
      depth_in_mode_ = 1;
      spec_.vocab.reserve(1 << 17);
      return true;
    }
    if (in_model && key_ == "merges" && container.is_array()) {
      mode_ = Mode::kMerges;
      depth_in_mode_ = 1;
      spec_.merges.reserve(1 << 17);
      return true;
    }
    const bool is_model = stack_.size() == 1 && key_ == "model";
    json* node = insert(std::move(container));
    if (is_model) model_ = node;
    stack_.push_back(node);
    return true;
  }

  bool close() {
    if (mode_ != Mode::kDom) {
      if (depth_in_mode_ == 2) {  // a merge written as ["a", "b"]
        if (pair_.size() != 2) fail("{}: model.merges entry is not a pair of strings", source_);
        spec_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      }
      if (--depth_in_mode_ == 0) mode_ = Mode::kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }

  TokenizerSpec& spec_;
  json& root_;
  const std::string& source_;
  std::vector<json*> stack_;
  json* model_ = nullptr;
  std::string key_;
  Mode mode_ = Mode::kDom;
  int depth_in_mode_ = 0;
  std::vector<std::string> pair_;
};

// Reads a field of an object, failing with its JSON path when absent or of the wrong type.
template <typename T>
T get(const json& object, const char* field, const std::string& where) {
  const auto it = object.find(field);
  if (it == object.end()) fail("{}: missing field {}.{}", where, where, field);
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    fail("{}: field {}.{} has the wrong type", where, where, field);
  }
}

bool is_null_or(const json& object, const char* field, const json& expected) {
  const auto it = object.find(field);
  return it == object.end() || it->is_null() || *it == expected;
}

void read_normalizer(const json& root, const std::string& source) {
  const auto it = root.find("normalizer");
  if (it == root.end() || it->is_null()) return;
  const bool empty_sequence = it->value("type", "") == "Sequence" && it->contains("normalizers") &&
                              (*it)["normalizers"].is_array() && (*it)["normalizers"].empty();
  if (!empty_sequence) fail("{}: unsupported normalizer {} (only none is implemented)", source, it->dump());
}

void read_pre_tokenizer(const json& root, TokenizerSpec& spec, const std::string& source) {
  const auto it = root.find("pre_tokenizer");
  if (it == root.end() || !it->is_object()) fail("{}: missing pre_tokenizer", source);
  std::vector<json> steps;
  if (it->value("type", "") == "Sequence") {
    steps = get<std::vector<json>>(*it, "pretokenizers", source + ".pre_tokenizer");
  } else {
    steps.push_back(*it);
  }
  bool byte_level = false;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const json& step = steps[i];
    const std::string where = fmt::format("{}.pre_tokenizer[{}]", source, i);
    const auto type = get<std::string>(step, "type", where);
    if (byte_level) fail("{}: {} after ByteLevel is not supported", where, type);
    if (type == "Split") {
      if (get<std::string>(step, "behavior", where) != "Isolated" || step.value("invert", false)) {
        fail("{}: only Split with behavior Isolated and invert false is supported", where);
      }
      const json& pattern = step.at("pattern");
      SplitSpec split;
      if (pattern.contains("Regex")) {
        split.pattern = get<std::string>(pattern, "Regex", where + ".pattern");
      } else {
        split.pattern = get<std::string>(pattern, "String", where + ".pattern");
        split.is_regex = false;
      }
      spec.splits.push_back(std::move(split));
    } else if (type == "ByteLevel") {
      if (step.value("add_prefix_space", false) || step.value("use_regex", true)) {
        fail("{}: only ByteLevel with add_prefix_space false and use_regex false is supported", where);
      }
      byte_level = true;
    } else {
      fail("{}: unsupported pre-tokenizer type {}", where, type);
    }
  }
  if (!byte_level) fail("{}.pre_tokenizer: a ByteLevel step is required", source);
}

void read_model(const json& root, TokenizerSpec& spec, const std::string& source) {
  const auto it = root.find("model");
  if (it == root.end() || !it->is_object()) fail("{}: missing model", source);
  const json& model = *it;
  const std::string where = source + ".model";
  if (get<std::string>(model, "type", where) != "BPE") fail("{}: only BPE models are supported", where);
  if (!is_null_or(model, "dropout", json(nullptr)) || !is_null_or(model, "byte_fallback", json(false)) ||
      !is_null_or(model, "continuing_subword_prefix", json(nullptr)) ||
      !is_null_or(model, "end_of_word_suffix", json(nullptr))) {
    fail("{}: dropout, byte_fallback, continuing_subword_prefix and end_of_word_suffix are not supported", where);
  }
  spec.ignore_merges = model.value("ignore_merges", false);
  if (spec.vocab.empty()) fail("{}: empty or missing vocab", where);
}

void read_added_tokens(const json& root, TokenizerSpec& spec, const std::string& source) {
  const auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& t = (*it)[i];
    const std::string where = fmt::format("{}.added_tokens[{}]", source, i);
    AddedTokenSpec token;
    const auto id = get<std::int64_t>(t, "id", where);
    if (id < 0 || id > 0x7FFFFFFF) fail("{}: id {} out of range", where, id);
    token.id = static_cast<TokenId>(id);
    token.content = get<std::string>(t, "content", where);
    if (token.content.empty()) fail("{}: empty content", where);
    token.single_word = t.value("single_word", false);
    token.lstrip = t.value("lstrip", false);
    token.rstrip = t.value("rstrip", false);
    token.normalized = t.value("normalized", true);
    token.special = t.value("special", false);
    spec.added_tokens.push_back(std::move(token));
  }
}

void read_decoder(const json& root, const std::string& source) {
  const auto it = root.find("decoder");
  if (it == root.end() || !it->is_object() || it->value("type", "") != "ByteLevel") {
    fail("{}: only the ByteLevel decoder is supported", source);
  }
}

}  // namespace

TokenizerSpec parse_tokenizer_json(std::string_view text, const std::string& source) {
  TokenizerSpec spec;
  json root;
  TokenizerSax sax(spec, root, source);
  nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  if (!root.is_object()) fail("{}: not a JSON object", source);
  read_normalizer(root, source);
  read_pre_tokenizer(root, spec, source);
  read_model(root, spec, source);
  read_added_tokens(root, spec, source);
  read_decoder(root, source);
  return spec;
}

TokenizerSpec read_tokenizer_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open tokenizer file {}", path.string());
  std::string text;
  in.seekg(0, std::ios::end);
  text.resize(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!in) fail("cannot read tokenizer file {}", path.string());
  return parse_tokenizer_json(text, path.string());
}

}  // namespace dsv32
