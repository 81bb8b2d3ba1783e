// A minimal JSON reader for the golden test data (tests/golden/*.json): objects, arrays,
// strings (with \uXXXX escapes), numbers, true/false/null. Test-only: the core has no JSON
// dependency and the server's nlohmann_json is not built in every configuration.
#pragma once
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace turbine::testing {

struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::map<std::string, Json> obj;

  const Json& operator[](const std::string& key) const {
    static const Json null;
    auto it = obj.find(key);
    return it == obj.end() ? null : it->second;
  }
  bool has(const std::string& key) const { return obj.count(key) > 0; }
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}
  // Returns false on malformed input.
  bool parse(Json& out) {
    if (!value(out)) return false;
    ws();
    return pos_ == s_.size();
  }

 private:
  void ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
      ++pos_;
  }
  bool lit(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  static void put_utf8(std::string& o, uint32_t c) {
    if (c < 0x80) {
      o += char(c);
    } else if (c < 0x800) {
      o += char(0xC0 | (c >> 6)), o += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      o += char(0xE0 | (c >> 12)), o += char(0x80 | ((c >> 6) & 0x3F)),
          o += char(0x80 | (c & 0x3F));
    } else {
      o += char(0xF0 | (c >> 18)), o += char(0x80 | ((c >> 12) & 0x3F)),
          o += char(0x80 | ((c >> 6) & 0x3F)), o += char(0x80 | (c & 0x3F));
    }
  }
  bool hex4(uint32_t& v) {
    if (pos_ + 4 > s_.size()) return false;
    v = static_cast<uint32_t>(std::strtoul(std::string(s_.substr(pos_, 4)).c_str(), nullptr, 16));
    pos_ += 4;
    return true;
  }
  bool string(std::string& o) {
    if (s_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        o += c;
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case 'n':
          o += '\n';
          break;
        case 't':
          o += '\t';
          break;
        case 'r':
          o += '\r';
          break;
        case 'b':
          o += '\b';
          break;
        case 'f':
          o += '\f';
          break;
        case 'u': {
          uint32_t v;
          if (!hex4(v)) return false;
          if (v >= 0xD800 && v < 0xDC00 && lit("\\u")) {
            uint32_t lo;
            if (!hex4(lo)) return false;
            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(o, v);
          break;
        }
        default:
          o += e;
      }
    }
    if (pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  bool value(Json& v) {
    ws();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') {
      v.kind = Json::kObject;
      ++pos_;
      ws();
      if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
      for (;;) {
        ws();
        std::string key;
        if (pos_ >= s_.size() || !string(key)) return false;
        ws();
        if (!lit(":")) return false;
        if (!value(v.obj[key])) return false;
        ws();
        if (lit(",")) continue;
        return lit("}");
      }
    }
    if (c == '[') {
      v.kind = Json::kArray;
      ++pos_;
      ws();
      if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
      for (;;) {
        v.arr.emplace_back();
        if (!value(v.arr.back())) return false;
        ws();
        if (lit(",")) continue;
        return lit("]");
      }
    }
    if (c == '"') return v.kind = Json::kString, string(v.str);
    if (lit("true")) return v.kind = Json::kBool, v.b = true, true;
    if (lit("false")) return v.kind = Json::kBool, v.b = false, true;
    if (lit("null")) return v.kind = Json::kNull, true;
    char* end = nullptr;
    std::string rest(s_.substr(pos_, 64));
    v.num = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) return false;
    v.kind = Json::kNumber;
    pos_ += static_cast<size_t>(end - rest.c_str());
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace turbine::testing
