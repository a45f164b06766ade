// Python json.dumps compatibility: the prompt embeds tool schemas and arguments in this form.
#include <gtest/gtest.h>

#include "chat/py_json.h"

namespace dsv32::chat {
namespace {

TEST(ChatPyJson, FloatReprMatchesPython) {
  EXPECT_EQ(py_float_repr(30.5), "30.5");
  EXPECT_EQ(py_float_repr(1.0), "1.0");
  EXPECT_EQ(py_float_repr(0.0), "0.0");
  EXPECT_EQ(py_float_repr(-0.0), "-0.0");
  EXPECT_EQ(py_float_repr(0.1), "0.1");
  EXPECT_EQ(py_float_repr(0.0001), "0.0001");
  EXPECT_EQ(py_float_repr(0.00001), "1e-05");
  EXPECT_EQ(py_float_repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(py_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(py_float_repr(1e16), "1e+16");
  EXPECT_EQ(py_float_repr(1.2345e20), "1.2345e+20");
  EXPECT_EQ(py_float_repr(123456.789), "123456.789");
  EXPECT_EQ(py_float_repr(-2.5), "-2.5");
  EXPECT_EQ(py_float_repr(1e100), "1e+100");
}

TEST(ChatPyJson, DumpsUsesPythonSeparatorsAndKeepsKeyOrder) {
  const auto value = nlohmann::ordered_json::parse(
      R"({"z": [1, 2.0, {"b": null, "a": true}], "a": "x", "e": {}, "l": []})");
  EXPECT_EQ(py_json_dumps(value), R"({"z": [1, 2.0, {"b": null, "a": true}], "a": "x", "e": {}, "l": []})");
}

TEST(ChatPyJson, EscapesLikeEnsureAsciiFalse) {
  const auto value = nlohmann::ordered_json("q\"b\\n\n\t\r\b\f\x01\x1f\x7f é 北京 🌤️");
  EXPECT_EQ(py_json_dumps(value), "\"q\\\"b\\\\n\\n\\t\\r\\b\\f\\u0001\\u001f\x7f é 北京 🌤️\"");
}

TEST(ChatPyJson, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  py_json_escape_into(out, std::string("a\xff" "b\xe4\xb8", 5));
  EXPECT_EQ(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace dsv32::chat
