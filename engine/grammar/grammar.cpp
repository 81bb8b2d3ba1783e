#include "engine/grammar/grammar.h"

namespace turbine::grammar {

uint32_t GrammarBuilder::rule(const std::string& name) {
  auto [it, inserted] = index_.emplace(name, static_cast<uint32_t>(names_.size()));
  if (!inserted) return it->second;
  names_.push_back(name);
  rules_.emplace_back();
  defined_.push_back(false);
  return static_cast<uint32_t>(names_.size() - 1);
}

uint32_t GrammarBuilder::fresh(const std::string& base) {
  names_.push_back(base + "~" + std::to_string(names_.size()));
  index_.emplace(names_.back(), static_cast<uint32_t>(names_.size() - 1));
  rules_.emplace_back();
  defined_.push_back(false);
  return static_cast<uint32_t>(names_.size() - 1);
}

Status GrammarBuilder::define(uint32_t id, std::vector<Seq> alternatives) {
  if (defined_[id]) return Error{"rule '" + names_[id] + "' is defined twice"};
  for (const Seq& s : alternatives) elems_ += s.size() + 1;
  rules_[id] = std::move(alternatives);
  defined_[id] = true;
  return Status::Ok();
}

Elem GrammarBuilder::bytes(const ByteSet& s) {
  auto [it, inserted] = set_index_.emplace(s.w, static_cast<uint32_t>(sets_.size()));
  if (inserted) sets_.push_back(s);
  return {Op::kBytes, it->second};
}

GrammarBuilder::Seq GrammarBuilder::literal(const std::string& text) {
  Seq s;
  for (unsigned char c : text) {
    ByteSet b;
    b.set(c);
    s.push_back(bytes(b));
  }
  return s;
}

namespace {

// Rules that can match the empty string (a fixpoint: bytes never do).
std::vector<bool> nullable_rules(const std::vector<std::vector<GrammarBuilder::Seq>>& rules) {
  std::vector<bool> nullable(rules.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < rules.size(); ++r) {
      if (nullable[r]) continue;
      for (const auto& seq : rules[r]) {
        bool all = true;
        for (const Elem& e : seq) all = all && e.op == Op::kRule && nullable[e.arg];
        if (all) {
          nullable[r] = changed = true;
          break;
        }
      }
    }
  }
  return nullable;
}

// A rule reachable from itself through leftmost positions (each preceded only by nullable
// rules), or -1.
int left_recursive_rule(const std::vector<std::vector<GrammarBuilder::Seq>>& rules) {
  const std::vector<bool> nullable = nullable_rules(rules);
  std::vector<std::vector<uint32_t>> left(rules.size());
  for (size_t r = 0; r < rules.size(); ++r)
    for (const auto& seq : rules[r])
      for (const Elem& e : seq) {
        if (e.op != Op::kRule) break;
        left[r].push_back(e.arg);
        if (!nullable[e.arg]) break;
      }
  // Iterative DFS with colours: 1 on the path, 2 done.
  std::vector<uint8_t> colour(rules.size(), 0);
  for (size_t start = 0; start < rules.size(); ++start) {
    if (colour[start]) continue;
    std::vector<std::pair<uint32_t, size_t>> path{{static_cast<uint32_t>(start), 0}};
    colour[start] = 1;
    while (!path.empty()) {
      auto& [r, next] = path.back();
      if (next == left[r].size()) {
        colour[r] = 2;
        path.pop_back();
        continue;
      }
      const uint32_t s = left[r][next++];
      if (colour[s] == 1) return static_cast<int>(s);
      if (colour[s] == 0) {
        colour[s] = 1;
        path.push_back({s, 0});
      }
    }
  }
  return -1;
}

}  // namespace

Result<Grammar> GrammarBuilder::build(const std::string& root_name, size_t max_code) && {
  auto it = index_.find(root_name);
  const bool found = it != index_.end();
  const uint32_t root = found ? it->second : 0;
  if (!found || !defined_[root]) return Error{"the grammar has no rule '" + root_name + "'"};
  for (uint32_t i = 0; i < names_.size(); ++i)
    if (!defined_[i]) return Error{"rule '" + names_[i] + "' is used but never defined"};
  if (elems_ > max_code)
    return Error{"the grammar is too large (" + std::to_string(elems_) + " elements, at most " +
                 std::to_string(max_code) + ")"};
  if (int r = left_recursive_rule(rules_); r >= 0)
    return Error{"rule '" + names_[r] +
                 "' is left-recursive (it can reach itself without matching a character)"};
  Grammar g;
  g.root = root;
  g.names = std::move(names_);
  g.sets = std::move(sets_);
  g.alts.resize(rules_.size());
  g.code.reserve(elems_);
  for (uint32_t r = 0; r < rules_.size(); ++r) {
    for (const Seq& seq : rules_[r]) {
      g.alts[r].push_back(static_cast<uint32_t>(g.code.size()));
      g.code.insert(g.code.end(), seq.begin(), seq.end());
      g.code.push_back({Op::kEndAlt, r});
    }
  }
  return g;
}

}  // namespace turbine::grammar
