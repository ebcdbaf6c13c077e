#include "monitor/request_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <unordered_map>
#include <vector>

// RequestTable only stores and compares handles and CommInfo pointers, so none of this calls MPI:
// handles are made-up non-null addresses and CommInfo records are never looked into.

namespace ferry::monitor {
namespace {

// Fake request handles: distinct, non-null, aligned like real heap pointers, and far below any
// address where MPI_REQUEST_NULL (a libmpi global) could live.
MPI_Request fake(std::uint64_t i) { return reinterpret_cast<MPI_Request>(static_cast<std::uintptr_t>((i + 1) * 16)); }

// Home slot of a handle in a table of `slots` slots, mirroring RequestTable::hash. Only used to
// *choose* colliding keys; if the hash changes the tests still hold, they just collide less.
std::size_t home(MPI_Request r, std::size_t slots) {
  auto v = reinterpret_cast<std::uintptr_t>(r);
  v *= 0x9E3779B97F4A7C15ull;
  return static_cast<std::size_t>(v >> 16) & (slots - 1);
}

TEST(RequestTable, InsertThenTake) {
  RequestTable t;
  CommInfo a, b, c;
  t.insert(fake(1), &a);
  t.insert(fake(2), &b);
  t.insert(fake(3), &c);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.take(fake(2)), &b);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.take(fake(1)), &a);
  EXPECT_EQ(t.take(fake(3)), &c);
  EXPECT_EQ(t.size(), 0u);
}

TEST(RequestTable, TakeOfUnknownIsNull) {
  RequestTable t;
  EXPECT_EQ(t.take(fake(5)), nullptr);  // empty table
  CommInfo a;
  t.insert(fake(1), &a);
  EXPECT_EQ(t.take(fake(5)), nullptr);  // send requests, say, were never inserted
  EXPECT_EQ(t.size(), 1u) << "a miss must not remove anything";
  EXPECT_EQ(t.take(fake(1)), &a);
}

TEST(RequestTable, TakeTwiceIsNullTheSecondTime) {
  // A request completes once; a second take (e.g. MPI_Wait on an inactive request) finds nothing.
  RequestTable t;
  CommInfo a;
  t.insert(fake(7), &a);
  EXPECT_EQ(t.take(fake(7)), &a);
  EXPECT_EQ(t.take(fake(7)), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

TEST(RequestTable, ReinsertReplacesWithoutDoubleCounting) {
  // MPI reuses request handles once freed; a stale entry must be overwritten, not duplicated.
  RequestTable t;
  CommInfo a, b;
  t.insert(fake(4), &a);
  t.insert(fake(4), &b);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.take(fake(4)), &b);
  EXPECT_EQ(t.take(fake(4)), nullptr);
}

TEST(RequestTable, NullRequestAndNullCommAreIgnored) {
  RequestTable t;
  CommInfo a;
  t.insert(MPI_REQUEST_NULL, &a);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.take(MPI_REQUEST_NULL), nullptr);
  t.insert(fake(1), nullptr);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.take(fake(1)), nullptr);
  // And the null handle stays ignored in a non-empty table, where it would otherwise probe.
  t.insert(fake(2), &a);
  EXPECT_EQ(t.take(MPI_REQUEST_NULL), nullptr);
  EXPECT_EQ(t.size(), 1u);
}

TEST(RequestTable, ClearForgetsEverything) {
  RequestTable t;
  CommInfo a;
  for (std::uint64_t i = 0; i < 100; ++i) t.insert(fake(i), &a);
  t.clear();
  EXPECT_EQ(t.size(), 0u);
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_EQ(t.take(fake(i)), nullptr);
  t.insert(fake(3), &a);
  EXPECT_EQ(t.take(fake(3)), &a);
}

TEST(RequestTable, GrowsFarBeyondInitialSize) {
  // An application posting thousands of Irecvs at once (halo exchange on many neighbours).
  constexpr std::uint64_t kCount = 10000;
  RequestTable t;
  std::vector<CommInfo> comms(7);
  for (std::uint64_t i = 0; i < kCount; ++i) t.insert(fake(i), &comms[i % comms.size()]);
  ASSERT_EQ(t.size(), kCount) << "entries lost while growing";

  std::vector<std::uint64_t> order(kCount);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  for (std::uint64_t i : order) ASSERT_EQ(t.take(fake(i)), &comms[i % comms.size()]) << "key " << i;
  EXPECT_EQ(t.size(), 0u);
  for (std::uint64_t i = 0; i < kCount; i += 97) EXPECT_EQ(t.take(fake(i)), nullptr);
}

// Keys whose home slots, in the initial 64-slot table, are the last two and first two slots:
// one long probe run that wraps around the end of the array, where backward-shift deletion has
// its hardest case (hole and entry on opposite sides of the wrap).
std::vector<MPI_Request> colliding_keys(std::size_t want) {
  std::vector<MPI_Request> keys;
  for (std::uint64_t i = 0; keys.size() < want; ++i) {
    const std::size_t h = home(fake(i), 64);
    if (h >= 62 || h <= 1) keys.push_back(fake(i));
  }
  return keys;
}

TEST(RequestTable, BackwardShiftDeletionKeepsCollidingKeysFindable) {
  // 30 entries stay below the table's growth threshold, so all of them share the 64-slot table
  // and one wrapped probe run.
  const std::vector<MPI_Request> keys = colliding_keys(30);
  std::vector<CommInfo> comms(keys.size());
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    RequestTable t;
    std::vector<std::size_t> order(keys.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);  // insertion order decides the layout
    for (std::size_t k : order) t.insert(keys[k], &comms[k]);
    ASSERT_EQ(t.size(), keys.size());

    // Delete a random part in random order, then every remaining key must still be found
    // (a bad shift strands entries behind a hole) and no deleted key may reappear (a bad shift
    // can also duplicate one).
    std::shuffle(order.begin(), order.end(), rng);
    const std::size_t deleted = 1 + rng() % keys.size();
    for (std::size_t n = 0; n < deleted; ++n)
      ASSERT_EQ(t.take(keys[order[n]]), &comms[order[n]]) << "trial " << trial << ", delete #" << n;
    EXPECT_EQ(t.size(), keys.size() - deleted);
    for (std::size_t n = 0; n < deleted; ++n)
      ASSERT_EQ(t.take(keys[order[n]]), nullptr) << "trial " << trial << ": deleted key came back";
    std::shuffle(order.begin() + static_cast<long>(deleted), order.end(), rng);
    for (std::size_t n = deleted; n < keys.size(); ++n)
      ASSERT_EQ(t.take(keys[order[n]]), &comms[order[n]]) << "trial " << trial << ": remaining key lost";
    EXPECT_EQ(t.size(), 0u);
  }
}

TEST(RequestTable, ManyKeysDeletedInRandomOrderRemainConsistent) {
  // Many keys in a grown table: clusters form and merge on their own.
  constexpr std::uint64_t kCount = 5000;
  RequestTable t;
  std::vector<CommInfo> comms(kCount);
  for (std::uint64_t i = 0; i < kCount; ++i) t.insert(fake(i), &comms[i]);
  std::vector<std::uint64_t> order(kCount);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
  const std::uint64_t half = kCount / 2;
  for (std::uint64_t n = 0; n < half; ++n) ASSERT_EQ(t.take(fake(order[n])), &comms[order[n]]);
  EXPECT_EQ(t.size(), kCount - half);
  for (std::uint64_t n = 0; n < half; ++n) ASSERT_EQ(t.take(fake(order[n])), nullptr);
  for (std::uint64_t n = half; n < kCount; ++n) ASSERT_EQ(t.take(fake(order[n])), &comms[order[n]]) << "key " << order[n];
  EXPECT_EQ(t.size(), 0u);
}

TEST(RequestTable, RandomOperationsMatchAMap) {
  // Interleaved inserts, re-inserts and takes, checked against std::unordered_map. A small key
  // space keeps the table dense with collisions while it grows and drains repeatedly.
  RequestTable t;
  std::unordered_map<std::uint64_t, CommInfo*> model;
  std::vector<CommInfo> comms(5);
  std::mt19937_64 rng(11);
  for (int op = 0; op < 200000; ++op) {
    const std::uint64_t key = rng() % 400;
    if (rng() % 2) {
      CommInfo* c = &comms[rng() % comms.size()];
      t.insert(fake(key), c);
      model[key] = c;
    } else {
      const auto it = model.find(key);
      CommInfo* expected = it == model.end() ? nullptr : it->second;
      ASSERT_EQ(t.take(fake(key)), expected) << "op " << op << ", key " << key;
      if (it != model.end()) model.erase(it);
    }
    ASSERT_EQ(t.size(), model.size()) << "op " << op;
  }
  for (const auto& [key, c] : model) EXPECT_EQ(t.take(fake(key)), c);
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace ferry::monitor
