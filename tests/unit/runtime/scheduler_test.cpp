// Scheduler: table-driven cases in the spirit of vLLM's test_scheduler.py. A harness plays
// the model: it runs each batch "instantly", samples token ids 1000, 1001, ... and checks
// the invariants every batch must satisfy.
#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <set>
#include <utility>
#include <vector>

#include "engine/runtime/scheduler.h"

namespace turbine {
namespace {

using std::chrono::seconds;
using Shape = std::vector<std::pair<SeqId, int>>;  // (sequence, tokens this step), in order

std::vector<int32_t> range(int32_t first, int n) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

SchedulerConfig config(int num_blocks, int block_size, int max_batch_tokens, int max_running = 64,
                       int max_queue = 64) {
  SchedulerConfig c;
  c.num_blocks = num_blocks;
  c.block_size = block_size;
  c.max_batch_tokens = max_batch_tokens;
  c.max_running = max_running;
  c.max_queue = max_queue;
  return c;
}

struct Harness {
  explicit Harness(SchedulerConfig c) : s(c) {}

  Scheduler s;
  SchedClock::time_point now{};
  int32_t next_token = 1000;
  std::set<SeqId> stop_next;  // their next sampled token is a stop

  void add(SeqId id, std::vector<int32_t> prompt, int max_tokens = 8,
           std::optional<SchedClock::time_point> deadline = std::nullopt) {
    auto err = s.admit({id, std::move(prompt), max_tokens, now, deadline});
    ASSERT_FALSE(err.has_value()) << err->message;
  }
  void add(SeqId id, int prompt_len, int max_tokens = 8) {
    add(id, range(static_cast<int32_t>(id) * 100, prompt_len), max_tokens);
  }

  Batch schedule() {
    Batch b = s.step(now);
    check(b);
    return b;
  }
  void finish_step(const Batch& b) {
    std::vector<SampledToken> out;
    for (const ScheduledSeq& e : b.seqs) {
      out.push_back(e.needs_logits ? SampledToken{next_token++, stop_next.count(e.id) > 0}
                                   : SampledToken{});
    }
    s.on_step_done(b, out);
  }
  // One engine step: schedule, "run the model", feed the samples back.
  Batch run() {
    Batch b = schedule();
    finish_step(b);
    return b;
  }
  Shape run_shape() { return shape(run()); }

  static Shape shape(const Batch& b) {
    Shape out;
    for (const ScheduledSeq& e : b.seqs) out.emplace_back(e.id, static_cast<int>(e.tokens.size()));
    return out;
  }

  // What every batch must satisfy, whatever the scenario.
  void check(const Batch& b) {
    const int bs = s.config().block_size;
    int total = 0, prefill = 0, decode = 0;
    bool seen_prefill = false;
    std::set<SeqId> ids;
    for (const ScheduledSeq& e : b.seqs) {
      EXPECT_TRUE(ids.insert(e.id).second) << "sequence " << e.id << " twice in a batch";
      EXPECT_FALSE(e.tokens.empty());
      EXPECT_GE(static_cast<int>(e.block_table.size()) * bs, e.context_len());
      if (e.is_prefill) seen_prefill = true;
      EXPECT_FALSE(!e.is_prefill && seen_prefill) << "decode after a prefill";
      if (!e.is_prefill) {
        EXPECT_EQ(e.tokens.size(), 1u);
        EXPECT_TRUE(e.needs_logits);
      }
      const Sequence* q = s.find(e.id);
      ASSERT_NE(q, nullptr);
      EXPECT_EQ(e.needs_logits, e.context_len() == q->num_tokens());
      for (size_t i = 0; i < e.tokens.size(); ++i) {
        EXPECT_EQ(e.tokens[i], q->token_at(e.start_pos + static_cast<int>(i)));
      }
      total += static_cast<int>(e.tokens.size());
      (e.is_prefill ? prefill : decode) += static_cast<int>(e.tokens.size());
    }
    EXPECT_EQ(b.num_tokens, total);
    EXPECT_EQ(b.num_prefill_tokens, prefill);
    EXPECT_EQ(b.num_decode_tokens, decode);
    EXPECT_LE(total, s.config().max_batch_tokens);
    EXPECT_LE(static_cast<int>(s.running_ids().size()), s.config().max_running);
  }
};

TEST(Scheduler, ChunkedPrefillAndDecodeFirstTable) {
  struct Case {
    const char* name;
    int budget;
    std::vector<int> prompts;  // sequence i+1 has prompts[i] tokens, all admitted at once
    std::vector<Shape> steps;
  };
  const std::vector<Case> cases = {
      {"one prompt split under the budget", 8, {20}, {{{1, 8}}, {{1, 8}}, {{1, 4}}, {{1, 1}}}},
      {"second prompt takes the leftover budget",
       8,
       {5, 5},
       {{{1, 5}, {2, 3}}, {{1, 1}, {2, 2}}, {{1, 1}, {2, 1}}}},
      {"decodes come before a newcomer's prefill",
       4,
       {2, 2, 9},
       {{{1, 2}, {2, 2}}, {{1, 1}, {2, 1}, {3, 2}}, {{1, 1}, {2, 1}, {3, 2}}}},
      {"prompt exactly the budget", 6, {6, 1}, {{{1, 6}}, {{1, 1}, {2, 1}}, {{1, 1}, {2, 1}}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h(config(64, 4, c.budget));
    for (size_t i = 0; i < c.prompts.size(); ++i) h.add(i + 1, c.prompts[i]);
    for (size_t step = 0; step < c.steps.size(); ++step) {
      EXPECT_EQ(h.run_shape(), c.steps[step]) << "step " << step;
    }
  }
}

TEST(Scheduler, ChunksCarryPositionsAndLogitsOnlyWhereThePromptCompletes) {
  Harness h(config(64, 4, 8));
  h.add(1, 20);
  struct Want {
    int start_pos;
    int n;
    bool logits;
    bool prefill;
  };
  for (const Want& w : std::vector<Want>{{0, 8, false, true},
                                         {8, 8, false, true},
                                         {16, 4, true, true},
                                         {20, 1, true, false},
                                         {21, 1, true, false}}) {
    Batch b = h.run();
    ASSERT_EQ(b.seqs.size(), 1u);
    EXPECT_EQ(b.seqs[0].start_pos, w.start_pos);
    EXPECT_EQ(static_cast<int>(b.seqs[0].tokens.size()), w.n);
    EXPECT_EQ(b.seqs[0].needs_logits, w.logits);
    EXPECT_EQ(b.seqs[0].is_prefill, w.prefill);
  }
  // The decode at position 20 computes the first sampled token.
  EXPECT_EQ(h.s.find(1)->generated.front(), 1000);
}

TEST(Scheduler, MaxRunningLimitsConcurrentSequences) {
  Harness h(config(64, 4, 64, /*max_running=*/2));
  h.add(1, 3, /*max_tokens=*/2);
  h.add(2, 3, 5);
  h.add(3, 3, 5);
  EXPECT_EQ(h.run_shape(), (Shape{{1, 3}, {2, 3}}));
  EXPECT_EQ(h.s.waiting_ids(), (std::vector<SeqId>{3}));
  EXPECT_EQ(h.run_shape(), (Shape{{1, 1}, {2, 1}}));  // 1 reaches max_tokens = 2
  ASSERT_EQ(h.s.take_finished().size(), 1u);
  EXPECT_EQ(h.run_shape(), (Shape{{2, 1}, {3, 3}}));
}

TEST(Scheduler, FcfsHeadOfLineIsNotOvertaken) {
  // 6 blocks of 4. Sequence 1 holds 4 blocks; 2 needs 3 (does not fit); 3 needs 1 (would
  // fit) but must not jump ahead of 2.
  Harness h(config(6, 4, 64));
  h.add(1, 16, /*max_tokens=*/2);
  EXPECT_EQ(h.run_shape(), (Shape{{1, 16}}));
  h.add(2, 12, 2);
  h.add(3, 2, 2);
  EXPECT_EQ(h.run_shape(), (Shape{{1, 1}}));
  EXPECT_EQ(h.s.waiting_ids(), (std::vector<SeqId>{2, 3}));
  ASSERT_EQ(h.s.take_finished().size(), 1u);  // 1 finished: its blocks are free again
  EXPECT_EQ(h.run_shape(), (Shape{{2, 12}, {3, 2}}));
}

TEST(Scheduler, LongFirstArrivalIsServedFirstUnderTheTokenBudget) {
  Harness h(config(64, 4, 8));
  h.add(1, 30);
  h.add(2, 2);
  EXPECT_EQ(h.s.stats().prefill_tokens_waiting, 32);  // both prompts, queued
  EXPECT_EQ(h.run_shape(), (Shape{{1, 8}}));
  EXPECT_EQ(h.s.waiting_ids(), (std::vector<SeqId>{2}));
  EXPECT_EQ(h.s.stats().prefill_tokens_waiting, 24);  // 22 of 1 (running) + 2 of 2
  EXPECT_EQ(h.run_shape(), (Shape{{1, 8}}));
  EXPECT_EQ(h.run_shape(), (Shape{{1, 8}}));
  EXPECT_EQ(h.run_shape(), (Shape{{1, 6}, {2, 2}}));
  EXPECT_EQ(h.s.stats().prefill_tokens_waiting, 0);  // decoding tokens do not count
}

TEST(Scheduler, PreemptsNewestAndRecomputesPromptPlusGenerated) {
  // 4 blocks of 4 tokens. Two 4-token prompts, each grows by one token a step; at 9 slots
  // each would need a third block and the pool has none left.
  Harness h(config(4, 4, 64));
  h.add(1, 4, /*max_tokens=*/8);
  h.add(2, 4, /*max_tokens=*/8);
  EXPECT_EQ(h.run_shape(), (Shape{{1, 4}, {2, 4}}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.run_shape(), (Shape{{1, 1}, {2, 1}}));
  EXPECT_EQ(h.s.stats().free_blocks, 0);
  EXPECT_EQ(h.s.stats().preemptions_total, 0);
  // Sequence 1 needs a third block: 2 (the newest) is preempted, 1 goes on alone.
  EXPECT_EQ(h.run_shape(), (Shape{{1, 1}}));
  EXPECT_EQ(h.s.stats().preemptions_total, 1);
  EXPECT_EQ(h.s.waiting_ids(), (std::vector<SeqId>{2}));
  EXPECT_EQ(h.s.stats().prefill_tokens_waiting, 9);  // 2's prompt + generated, again
  const Sequence* two = h.s.find(2);
  EXPECT_EQ(two->status, SeqStatus::kPreempted);
  EXPECT_EQ(two->num_computed, 0);
  const std::vector<int32_t> two_generated = two->generated;
  ASSERT_EQ(two_generated.size(), 5u);
  // 1 keeps decoding until max_tokens (8); 2 cannot come back while 1 holds 3 blocks.
  EXPECT_EQ(h.run_shape(), (Shape{{1, 1}}));
  EXPECT_EQ(h.run_shape(), (Shape{{1, 1}}));
  auto fin = h.s.take_finished();
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].id, 1);
  EXPECT_EQ(fin[0].reason, FinishReason::kLength);
  EXPECT_EQ(fin[0].completion_tokens, 8);
  // 2 re-prefills prompt + generated. Its prompt block is still cached (its generated
  // block, the tail, was evicted first), so the recompute starts at position 4 and covers
  // exactly the generated tokens.
  Batch b = h.schedule();
  ASSERT_EQ(b.seqs.size(), 1u);
  EXPECT_EQ(b.seqs[0].id, 2);
  EXPECT_TRUE(b.seqs[0].is_prefill);
  EXPECT_EQ(b.seqs[0].start_pos, 4);
  EXPECT_EQ(b.seqs[0].tokens, two_generated);
  EXPECT_TRUE(b.seqs[0].needs_logits);
  h.finish_step(b);
  EXPECT_EQ(h.s.find(2)->generated.size(), 6u);  // output continues where it stopped
  EXPECT_EQ(h.s.find(2)->num_preemptions, 1);
}

TEST(Scheduler, PreemptionVictimTable) {
  // 3 sequences of 4-token prompts in 6 blocks of 4: after 4 decodes each holds 2 blocks
  // (8 slots) and the pool is full; at the 6th step every survivor needs a third block.
  struct Case {
    const char* name;
    std::vector<int> max_tokens;  // per sequence 1, 2, 3
    Shape sixth_step;
    std::vector<SeqId> want_waiting;
    int want_preemptions;
  };
  const std::vector<Case> cases = {
      {"newest is preempted, the others decode", {20, 20, 20}, {{1, 1}, {2, 1}}, {3}, 1},
      {"a finished sequence's blocks avoid preemption", {20, 3, 20}, {{1, 1}, {3, 1}}, {}, 0},
      {"newest finished at once: no pressure", {20, 20, 1}, {{1, 1}, {2, 1}}, {}, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h(config(6, 4, 64));
    for (SeqId id = 1; id <= 3; ++id) h.add(id, 4, c.max_tokens[id - 1]);
    EXPECT_EQ(h.run_shape(), (Shape{{1, 4}, {2, 4}, {3, 4}}));
    for (int i = 0; i < 4; ++i) h.run();
    EXPECT_EQ(h.run_shape(), c.sixth_step);
    EXPECT_EQ(h.s.waiting_ids(), c.want_waiting);
    EXPECT_EQ(h.s.stats().preemptions_total, c.want_preemptions);
  }
}

TEST(Scheduler, SequenceNeedingABlockPreemptsItselfWhenItIsTheNewest) {
  // 3 blocks of 4: 1 has a 8-token prompt (2 blocks), 2 a 4-token one (1 block). Only 2
  // crosses a boundary first; it is the newest, so it yields rather than evicting 1.
  Harness h(config(3, 4, 64));
  h.add(1, 7, 5);
  h.add(2, 4, 5);
  EXPECT_EQ(h.run_shape(), (Shape{{1, 7}, {2, 4}}));
  EXPECT_EQ(h.run_shape(), (Shape{{1, 1}}));
  EXPECT_EQ(h.s.waiting_ids(), (std::vector<SeqId>{2}));
  EXPECT_EQ(h.s.running_ids(), (std::vector<SeqId>{1}));
  EXPECT_EQ(h.s.stats().preemptions_total, 1);
}

TEST(Scheduler, AdmissionRejectionsTable) {
  struct Case {
    const char* name;
    int prompt_len;
    int max_tokens;
    int already_queued;
    std::optional<RejectReason> want;
    const char* message_part;
  };
  // Pool: 8 blocks x 4 = 32 tokens; context 24; one running slot and a queue of 2, so
  // three sequences fit before the queue is full.
  const std::vector<Case> cases = {
      {"fits", 10, 10, 0, std::nullopt, ""},
      {"exactly the context", 12, 12, 0, std::nullopt, ""},
      {"over the context", 20, 5, 0, RejectReason::kTooLong, "maximum context length is 24"},
      {"empty prompt", 0, 5, 0, RejectReason::kInvalid, "prompt is empty"},
      {"no tokens to generate", 5, 0, 0, RejectReason::kInvalid, "max_tokens"},
      {"last queue place", 4, 4, 2, std::nullopt, ""},
      {"queue full", 4, 4, 3, RejectReason::kQueueFull, "2 requests are already queued"},
      {"too long wins over queue full", 30, 5, 3, RejectReason::kTooLong, "context length"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SchedulerConfig cfg = config(8, 4, 64, /*max_running=*/1, /*max_queue=*/2);
    cfg.max_model_len = 24;
    Scheduler s(cfg);
    for (int i = 0; i < c.already_queued; ++i) {
      ASSERT_FALSE(s.admit({100 + i, range(0, 2), 2, {}, {}}).has_value());
    }
    auto err = s.admit({1, range(0, c.prompt_len), c.max_tokens, {}, {}});
    ASSERT_EQ(err.has_value(), c.want.has_value()) << (err ? err->message : "");
    if (!err) {
      EXPECT_NE(s.find(1), nullptr);
      continue;
    }
    EXPECT_EQ(err->reason, *c.want);
    EXPECT_NE(err->message.find(c.message_part), std::string::npos) << err->message;
    EXPECT_EQ(s.find(1), nullptr);
  }
}

// Capacity is running slots + queue: a burst admitted before any step (every sequence still
// "waiting") must not be judged as if the idle running slots were queue places.
TEST(Scheduler, QueueCountsOnlyWhatTheRunningSlotsCannotTake) {
  EXPECT_EQ(queued_requests(0, 2), -2);  // two free running slots
  EXPECT_EQ(queued_requests(2, 2), 0);
  EXPECT_EQ(queued_requests(3, 2), 1);
  EXPECT_EQ(queued_requests(8, 2), 6);
  struct Case {
    const char* name;
    int max_running, max_queue;
    int burst;       // admitted back to back, no step in between
    int steps;       // engine steps run after the burst
    int more;        // then admitted
    int want_burst;  // accepted of the burst
    int want_more;   // accepted of the later ones
  };
  const std::vector<Case> cases = {
      {"burst of 8 into 2 running + 2 queued", 2, 2, 8, 0, 0, 4, 0},
      {"burst fills exactly", 2, 2, 4, 0, 1, 4, 0},
      {"after a step the same capacity holds", 2, 2, 3, 1, 3, 3, 1},
      {"no queue: only the running slots", 3, 0, 5, 0, 0, 3, 0},
      {"one running slot, queue of 1", 1, 1, 6, 1, 2, 2, 0},
      {"large queue", 2, 64, 10, 2, 10, 10, 10},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h(config(64, 4, 256, c.max_running, c.max_queue));
    SeqId id = 1;
    auto admit_n = [&](int n) {
      int ok = 0;
      for (int i = 0; i < n; ++i, ++id) {
        auto err = h.s.admit({id, range(0, 3), 50, {}, {}});
        if (!err) {
          ++ok;
        } else {
          EXPECT_EQ(err->reason, RejectReason::kQueueFull) << err->message;
        }
      }
      return ok;
    };
    EXPECT_EQ(admit_n(c.burst), c.want_burst);
    for (int i = 0; i < c.steps; ++i) h.run();
    EXPECT_EQ(admit_n(c.more), c.want_more);
    const SchedulerStats st = h.s.stats();
    EXPECT_LE(st.running, c.max_running);
    EXPECT_LE(queued_requests(st.waiting + st.running, c.max_running), c.max_queue);
  }
}

// A finished sequence frees its place at once.
TEST(Scheduler, FinishedSequenceFreesItsAdmissionPlace) {
  Harness h(config(64, 4, 256, /*max_running=*/1, /*max_queue=*/1));
  h.add(1, 3, /*max_tokens=*/1);
  h.add(2, 3, 50);
  EXPECT_TRUE(h.s.admit({3, range(0, 3), 50, {}, {}}).has_value());
  h.run();  // 1 prefills and samples its only token: done
  EXPECT_EQ(h.s.take_finished().size(), 1u);
  EXPECT_FALSE(h.s.admit({3, range(0, 3), 50, {}, {}}).has_value());
}

TEST(Scheduler, RejectsWhatCanNeverFitThePool) {
  Scheduler s(config(8, 4, 64));  // 32 tokens, no context limit
  EXPECT_EQ(s.max_sequence_tokens(), 32);
  EXPECT_FALSE(s.admit({1, range(0, 20), 12, {}, {}}).has_value());
  auto err = s.admit({2, range(0, 20), 13, {}, {}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->reason, RejectReason::kTooLong);
  EXPECT_NE(err->message.find("whole cache holds 32"), std::string::npos) << err->message;
}

TEST(Scheduler, CancellationFreesBlocksAtTheNextStep) {
  Harness h(config(16, 4, 64));
  h.add(1, 10);
  h.add(2, 6);
  h.run();
  EXPECT_EQ(h.s.stats().used_blocks, 5);
  EXPECT_TRUE(h.s.cancel(1));
  EXPECT_FALSE(h.s.cancel(42));
  EXPECT_EQ(h.s.stats().used_blocks, 5);  // only flagged until the loop turns
  EXPECT_EQ(h.run_shape(), (Shape{{2, 1}}));
  EXPECT_EQ(h.s.stats().used_blocks, 2);
  auto fin = h.s.take_finished();
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].id, 1);
  EXPECT_EQ(fin[0].reason, FinishReason::kCancelled);
  EXPECT_EQ(fin[0].completion_tokens, 1);
  EXPECT_EQ(h.s.find(1), nullptr);
  // A waiting sequence can be cancelled too.
  h.add(3, 4);
  h.s.cancel(3);
  EXPECT_EQ(h.run_shape(), (Shape{{2, 1}}));
  EXPECT_EQ(h.s.take_finished().at(0).reason, FinishReason::kCancelled);
  EXPECT_TRUE(h.s.waiting_ids().empty());
}

TEST(Scheduler, DeadlinesTimeOutWaitingAndRunningSequences) {
  Harness h(config(16, 4, 64, /*max_running=*/1));
  h.add(1, range(0, 4), 20, h.now + seconds(5));
  h.add(2, range(10, 4), 20, h.now + seconds(3));  // waits behind 1 (max_running 1)
  h.add(3, range(20, 4), 20);                      // no deadline
  h.now += seconds(2);
  EXPECT_EQ(h.run_shape(), (Shape{{1, 4}}));
  h.now += seconds(1);  // t = 3: 2's deadline (inclusive)
  EXPECT_EQ(h.run_shape(), (Shape{{1, 1}}));
  auto fin = h.s.take_finished();
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].id, 2);
  EXPECT_EQ(fin[0].reason, FinishReason::kTimeout);
  h.now += seconds(2);  // t = 5: 1 times out while running; 3 takes its place
  EXPECT_EQ(h.run_shape(), (Shape{{3, 4}}));
  fin = h.s.take_finished();
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].id, 1);
  EXPECT_EQ(fin[0].reason, FinishReason::kTimeout);
  EXPECT_EQ(fin[0].completion_tokens, 2);
}

TEST(Scheduler, PrefixCacheHitsShortenThePrefill) {
  struct Case {
    const char* name;
    std::vector<int32_t> second;
    int want_start;  // first computed position of the second prompt
  };
  const std::vector<int32_t> first = range(0, 12);
  const std::vector<Case> cases = {
      {"shares two blocks",
       [] {
         auto t = range(0, 8);
         t.push_back(77);
         return t;
       }(),
       8},
      {"identical prompt still computes its last block", range(0, 12), 8},
      {"unrelated", range(500, 12), 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h(config(16, 4, 64));
    h.add(1, first, 1);
    h.run();  // prefill + sample: finished by max_tokens = 1; blocks stay cached
    ASSERT_EQ(h.s.take_finished().size(), 1u);
    h.add(2, c.second, 1);
    Batch b = h.run();
    ASSERT_EQ(b.seqs.size(), 1u);
    EXPECT_EQ(b.seqs[0].start_pos, c.want_start);
    EXPECT_EQ(b.num_prefill_tokens, static_cast<int>(c.second.size()) - c.want_start);
    EXPECT_TRUE(b.seqs[0].needs_logits);
    auto fin = h.s.take_finished();
    ASSERT_EQ(fin.size(), 1u);
    EXPECT_EQ(fin[0].cached_tokens, c.want_start);
    EXPECT_EQ(h.s.stats().prefix_cache_hits, c.want_start);
    EXPECT_EQ(h.s.stats().prefix_cache_queries, 12 + static_cast<int>(c.second.size()));
  }
}

TEST(Scheduler, FinishesByStopOrLengthAndFreesBlocks) {
  struct Case {
    const char* name;
    int max_tokens;
    int stop_after;  // flag the stop on this sampled token (1-based); 0: never
    FinishReason want_reason;
    int want_completion;
  };
  for (const Case& c :
       std::vector<Case>{{"length", 3, 0, FinishReason::kLength, 3},
                         {"stop before length", 10, 2, FinishReason::kStop, 2},
                         {"stop on the last allowed token", 2, 2, FinishReason::kStop, 2},
                         {"single token", 1, 0, FinishReason::kLength, 1}}) {
    SCOPED_TRACE(c.name);
    Harness h(config(16, 4, 64));
    h.add(1, 5, c.max_tokens);
    std::vector<FinishedSeq> fin;
    for (int step = 1; step <= 20 && fin.empty(); ++step) {
      if (step == c.stop_after) h.stop_next.insert(1);
      h.run();
      fin = h.s.take_finished();
    }
    ASSERT_EQ(fin.size(), 1u);
    EXPECT_EQ(fin[0].reason, c.want_reason);
    EXPECT_EQ(fin[0].completion_tokens, c.want_completion);
    EXPECT_EQ(fin[0].prompt_tokens, 5);
    EXPECT_EQ(h.s.stats().used_blocks, 0);
    EXPECT_FALSE(h.s.has_work());
  }
}

TEST(Scheduler, ContextLimitFinishesWithLength) {
  SchedulerConfig cfg = config(16, 4, 64);
  cfg.max_model_len = 8;
  Harness h(cfg);
  h.add(1, 6, 2);
  h.run();
  h.run();
  auto fin = h.s.take_finished();
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].reason, FinishReason::kLength);
  EXPECT_EQ(fin[0].completion_tokens, 2);
}

TEST(Scheduler, StatsForLoadAndMetrics) {
  Harness h(config(10, 4, 64, /*max_running=*/1));
  h.add(1, 9);
  h.add(2, 3);
  h.run();
  const SchedulerStats st = h.s.stats();
  EXPECT_EQ(st.waiting, 1);
  EXPECT_EQ(st.running, 1);
  EXPECT_EQ(st.used_blocks, 3);
  EXPECT_EQ(st.free_blocks, 7);
  EXPECT_EQ(st.total_blocks, 10);
  EXPECT_EQ(st.block_size, 4);
  EXPECT_DOUBLE_EQ(st.kv_usage, 0.3);
  EXPECT_EQ(st.preemptions_total, 0);
  EXPECT_EQ(h.s.find(1)->first_scheduled, h.now);
  EXPECT_FALSE(h.s.find(2)->first_scheduled.has_value());
}

TEST(Scheduler, WatermarkKeepsHeadroomAtAdmission) {
  SchedulerConfig cfg = config(4, 4, 64);
  cfg.watermark_blocks = 1;
  Harness h(cfg);
  h.add(1, 8);  // 2 blocks, leaves 2
  h.add(2, 8);  // would leave 0 < watermark: waits
  EXPECT_EQ(h.run_shape(), (Shape{{1, 8}}));
  EXPECT_EQ(h.s.waiting_ids(), (std::vector<SeqId>{2}));
}

TEST(Scheduler, EmptyStepIsEmpty) {
  Harness h(config(4, 4, 64));
  EXPECT_TRUE(h.schedule().empty());
  EXPECT_FALSE(h.s.has_work());
}

}  // namespace
}  // namespace turbine
