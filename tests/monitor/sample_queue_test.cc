#include "monitor/sample_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace ferry::monitor {
namespace {

core::Sample sample(std::uint64_t seq) {
  core::Sample s;
  s.seq = seq;
  // Derived fields let a reader detect a slot that was copied half old, half new.
  s.wall = static_cast<double>(seq);
  s.bytes_sent = seq * 3 + 1;
  s.papi_count = 2;
  s.papi[0] = static_cast<std::int64_t>(seq);
  s.papi[1] = -static_cast<std::int64_t>(seq);
  return s;
}

void expect_consistent(const core::Sample& s) {
  EXPECT_EQ(s.wall, static_cast<double>(s.seq));
  EXPECT_EQ(s.bytes_sent, s.seq * 3 + 1);
  EXPECT_EQ(s.papi[0], static_cast<std::int64_t>(s.seq));
  EXPECT_EQ(s.papi[1], -static_cast<std::int64_t>(s.seq));
}

TEST(SampleQueue, CapacityRoundsUpToPowerOfTwo) {
  const std::pair<std::size_t, std::size_t> cases[] = {{0, 2},  {1, 2},   {2, 2},     {3, 4},      {4, 4},
                                                       {5, 8},  {64, 64}, {100, 128}, {1000, 1024}, {1025, 2048}};
  for (const auto& [asked, got] : cases) EXPECT_EQ(SampleQueue(asked).capacity(), got) << "asked for " << asked;
}

TEST(SampleQueue, RoundedCapacityIsUsable) {
  // Asking for 5 gives 8 slots, and all 8 really hold samples.
  SampleQueue q(5);
  for (std::uint64_t i = 0; i < 8; ++i) EXPECT_TRUE(q.push(sample(i))) << i;
  EXPECT_FALSE(q.push(sample(8)));
  EXPECT_EQ(q.dropped(), 1u);
}

TEST(SampleQueue, EmptyPopReturnsFalse) {
  SampleQueue q(4);
  core::Sample out;
  EXPECT_FALSE(q.pop(out));
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(SampleQueue, PopsInPushOrderWithAllFields) {
  SampleQueue q(16);
  for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(q.push(sample(i)));
  core::Sample out;
  for (std::uint64_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(q.pop(out)) << i;
    EXPECT_EQ(out.seq, i);
    expect_consistent(out);
  }
  EXPECT_FALSE(q.pop(out));
}

TEST(SampleQueue, FullQueueDropsNewSamplesAndCountsThem) {
  SampleQueue q(4);
  for (std::uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(q.push(sample(i)));
  // Full: the newest samples are the ones lost; the queued ones are untouched.
  for (std::uint64_t i = 4; i < 7; ++i) EXPECT_FALSE(q.push(sample(i)));
  EXPECT_EQ(q.dropped(), 3u);

  core::Sample out;
  ASSERT_TRUE(q.pop(out));
  EXPECT_EQ(out.seq, 0u);
  // One slot free again: the next push succeeds and nothing more is dropped.
  EXPECT_TRUE(q.push(sample(100)));
  EXPECT_EQ(q.dropped(), 3u);

  std::vector<std::uint64_t> rest;
  while (q.pop(out)) rest.push_back(out.seq);
  EXPECT_EQ(rest, (std::vector<std::uint64_t>{1, 2, 3, 100}));
}

TEST(SampleQueue, CountDropAddsToDropped) {
  // The sampler counts samples it could not even build; they show up in the same total.
  SampleQueue q(2);
  q.count_drop();
  q.count_drop();
  EXPECT_EQ(q.dropped(), 2u);
  ASSERT_TRUE(q.push(sample(0)));
  ASSERT_TRUE(q.push(sample(1)));
  EXPECT_FALSE(q.push(sample(2)));
  EXPECT_EQ(q.dropped(), 3u);
}

TEST(SampleQueue, WrapsAroundOverManyCycles) {
  // Vary the fill level so head and tail cross the ring boundary at every offset.
  SampleQueue q(8);
  std::uint64_t next_push = 0, next_pop = 0;
  core::Sample out;
  for (int cycle = 0; cycle < 20000; ++cycle) {
    const int pushes = 1 + cycle % 8;
    for (int i = 0; i < pushes; ++i) {
      const bool room = next_push - next_pop < q.capacity();
      ASSERT_EQ(q.push(sample(next_push)), room) << "cycle " << cycle;
      if (room) ++next_push;
    }
    const int pops = 1 + (cycle * 5) % 8;
    for (int i = 0; i < pops; ++i) {
      const bool have = next_pop < next_push;
      ASSERT_EQ(q.pop(out), have) << "cycle " << cycle;
      if (have) {
        ASSERT_EQ(out.seq, next_pop) << "cycle " << cycle;
        expect_consistent(out);
        ++next_pop;
      }
    }
  }
  EXPECT_GT(next_push, 10 * q.capacity());  // really went round many times
  while (q.pop(out)) EXPECT_EQ(out.seq, next_pop++);
  EXPECT_EQ(next_pop, next_push);
}

TEST(SampleQueue, ProducerAndConsumerThreads) {
  // The real use: the application thread pushes, the sampler thread pops, nobody waits.
  constexpr std::uint64_t kPushed = 1'000'000;
  SampleQueue q(1024);
  std::atomic<bool> done{false};
  std::uint64_t accepted = 0;

  std::uint64_t received = 0;
  std::uint64_t last = 0;
  bool first = true, ordered = true, consistent = true;
  std::thread consumer([&] {
    core::Sample out;
    auto check = [&] {
      if (!first && out.seq <= last) ordered = false;
      if (out.wall != static_cast<double>(out.seq) || out.bytes_sent != out.seq * 3 + 1 ||
          out.papi[0] != static_cast<std::int64_t>(out.seq))
        consistent = false;
      last = out.seq;
      first = false;
      ++received;
    };
    for (;;) {
      if (q.pop(out)) {
        check();
      } else if (done.load(std::memory_order_acquire)) {
        // The producer had finished before this look: whatever is still queued is all there is.
        while (q.pop(out)) check();
        break;
      }
    }
  });

  for (std::uint64_t i = 0; i < kPushed; ++i)
    if (q.push(sample(i))) ++accepted;
  done.store(true, std::memory_order_release);
  consumer.join();

  core::Sample out;
  EXPECT_FALSE(q.pop(out)) << "consumer left samples behind";
  EXPECT_TRUE(ordered) << "consumer saw a sequence number go backwards or repeat";
  EXPECT_TRUE(consistent) << "consumer saw a torn sample";
  EXPECT_EQ(received, accepted);
  EXPECT_EQ(received + q.dropped(), kPushed);
  EXPECT_GT(received, 0u);
}

}  // namespace
}  // namespace ferry::monitor
