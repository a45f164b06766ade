#pragma once
// Loading the golden chat-format data of shared/chatfmt (one JSON object per line).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dsv32::chat::testing {

inline std::string chatfmt_path(const std::string& name) { return std::string(DSV32_SHARED_DIR) + "/chatfmt/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::vector<nlohmann::ordered_json> load_jsonl(const std::string& name) {
  std::vector<nlohmann::ordered_json> cases;
  std::ifstream in(chatfmt_path(name));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) cases.push_back(nlohmann::ordered_json::parse(line));
  }
  return cases;
}

// gtest parameter names: the case's `name` field.
struct CaseName {
  template <typename Param>
  std::string operator()(const Param& info) const {
    return info.param["name"].template get<std::string>();
  }
};

}  // namespace dsv32::chat::testing
