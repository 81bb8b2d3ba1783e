#include "engine/tokenizer/bpe_merge.h"

#include <queue>

#include "engine/tokenizer/unicode.h"

namespace turbine {
namespace {

struct Symbol {
  int prev, next;
  size_t begin, len;  // byte range in the word; len 0 once merged into its left neighbour
};

// Splits into UTF-8 characters by their lead bytes (a truncated last one keeps what is left).
std::vector<Symbol> initial_symbols(std::string_view s) {
  std::vector<Symbol> syms;
  syms.reserve(s.size());
  for (size_t off = 0; off < s.size();) {
    size_t len = std::min(s.size() - off, utf8_len_from_lead(static_cast<uint8_t>(s[off])));
    int i = static_cast<int>(syms.size());
    syms.push_back({i - 1, off + len == s.size() ? -1 : i + 1, off, len});
    off += len;
  }
  return syms;
}

std::vector<std::string_view> collect(std::string_view s, const std::vector<Symbol>& syms) {
  std::vector<std::string_view> out;
  for (int i = syms.empty() ? -1 : 0; i != -1; i = syms[i].next)
    if (syms[i].len > 0) out.push_back(s.substr(syms[i].begin, syms[i].len));
  return out;
}

void merge_into_left(std::vector<Symbol>& syms, int left, int right) {
  syms[left].len += syms[right].len;
  syms[right].len = 0;
  syms[left].next = syms[right].next;
  if (syms[right].next >= 0) syms[syms[right].next].prev = left;
}

}  // namespace

MergeRanks::MergeRanks(const std::vector<std::string>& merges) {
  ranks_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    // As llama.cpp: split at the first space after the first byte; the first rank wins.
    const std::string& m = merges[i];
    size_t sp = m.find(' ', 1);
    std::string key = sp == std::string::npos ? std::string(" ") : m;
    ranks_.emplace(std::move(key), static_cast<int32_t>(i));
  }
}

int MergeRanks::rank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left).push_back(' ');
  key.append(right);
  auto it = ranks_.find(std::string_view(key));
  return it == ranks_.end() ? -1 : it->second;
}

std::vector<std::string_view> bpe_merge(std::string_view word, const MergeRanks& ranks) {
  std::vector<Symbol> syms = initial_symbols(word);
  struct Pair {
    int rank, left, right;
    size_t len;  // combined byte length when queued: a changed neighbour makes it stale
  };
  auto later = [](const Pair& a, const Pair& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(later)> queue(later);
  auto push = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    int rk = ranks.rank(word.substr(syms[l].begin, syms[l].len),
                        word.substr(syms[r].begin, syms[r].len));
    if (rk >= 0) queue.push({rk, l, r, syms[l].len + syms[r].len});
  };
  for (size_t i = 1; i < syms.size(); ++i) push(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!queue.empty()) {
    Pair p = queue.top();
    queue.pop();
    Symbol& l = syms[p.left];
    Symbol& r = syms[p.right];
    // Symbols only grow and start where they started, so equal length means same text.
    if (l.len == 0 || r.len == 0 || l.next != p.right || l.len + r.len != p.len) continue;
    merge_into_left(syms, p.left, p.right);
    push(syms[p.left].prev, p.left);
    push(p.left, syms[p.left].next);
  }
  return collect(word, syms);
}

std::vector<std::string_view> spm_merge(
    std::string_view text, const std::function<bool(std::string_view, float*)>& score_of) {
  std::vector<Symbol> syms = initial_symbols(text);
  struct Pair {
    float score;
    int left, right;
    size_t len;
  };
  auto later = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(later)> queue(later);
  auto push = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    float score = 0;
    size_t len = syms[l].len + syms[r].len;
    if (score_of(text.substr(syms[l].begin, len), &score)) queue.push({score, l, r, len});
  };
  for (size_t i = 1; i < syms.size(); ++i) push(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!queue.empty()) {
    Pair p = queue.top();
    queue.pop();
    Symbol& l = syms[p.left];
    Symbol& r = syms[p.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != p.len) continue;
    merge_into_left(syms, p.left, p.right);
    push(syms[p.left].prev, p.left);
    push(p.left, syms[p.left].next);
  }
  return collect(text, syms);
}

}  // namespace turbine
