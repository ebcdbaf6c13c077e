// Rank placement and the files it reads and writes, as pure functions.
#include "supervisor/placement.h"

#include <gtest/gtest.h>

namespace ferry::supervisor {
namespace {

std::vector<NodeSlots> three_nodes() { return {{"node01", 2}, {"node02", 2}, {"node03", 2}}; }

TEST(Placement, BlockFillsEachNodeInTurn) {
  std::vector<RankPlace> out;
  std::string error;
  ASSERT_TRUE(place(6, three_nodes(), MapPolicy::Block, 2, out, error)) << error;
  EXPECT_EQ(rankfile_text(out),
            "rank 0=node01 slot=0\nrank 1=node01 slot=1\nrank 2=node02 slot=0\n"
            "rank 3=node02 slot=1\nrank 4=node03 slot=0\nrank 5=node03 slot=1\n");
}

TEST(Placement, CyclicGoesRoundRobin) {
  std::vector<RankPlace> out;
  std::string error;
  ASSERT_TRUE(place(4, three_nodes(), MapPolicy::Cyclic, 2, out, error)) << error;
  EXPECT_EQ(rankfile_text(out),
            "rank 0=node01 slot=0\nrank 1=node02 slot=0\nrank 2=node03 slot=0\nrank 3=node01 slot=1\n");
}

TEST(Placement, CyclicSkipsFullNodes) {
  std::vector<RankPlace> out;
  std::string error;
  ASSERT_TRUE(place(4, {{"a", 1}, {"b", 3}}, MapPolicy::Cyclic, 4, out, error)) << error;
  EXPECT_EQ(rankfile_text(out), "rank 0=a slot=0\nrank 1=b slot=0\nrank 2=b slot=1\nrank 3=b slot=2\n");
}

TEST(Placement, SlotsCycleThroughTheCores) {
  std::vector<RankPlace> out;
  std::string error;
  ASSERT_TRUE(place(3, {{"a", 3}}, MapPolicy::Block, 2, out, error)) << error;
  EXPECT_EQ(out[2].slot, 0);
}

TEST(Placement, TooFewSlotsIsRefusedWithTheCounts) {
  std::vector<RankPlace> out;
  std::string error;
  EXPECT_FALSE(place(7, three_nodes(), MapPolicy::Block, 2, out, error));
  EXPECT_NE(error.find("7 ranks"), std::string::npos) << error;
  EXPECT_NE(error.find("node02:2"), std::string::npos) << error;
  EXPECT_FALSE(place(0, three_nodes(), MapPolicy::Block, 2, out, error));
  EXPECT_FALSE(place(1, {}, MapPolicy::Block, 2, out, error));
}

TEST(Rankfile, RoundTripsAndRejectsBadLines) {
  std::vector<RankPlace> out;
  std::string error;
  ASSERT_TRUE(parse_rankfile("# placement\nrank 1=node02 slot=1\nrank 0=node01 slot=0\n", out, error)) << error;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].node, "node01");
  EXPECT_EQ(out[1].slot, 1);
  EXPECT_FALSE(parse_rankfile("rank 0=node01\n", out, error));
  EXPECT_NE(error.find("line 1"), std::string::npos) << error;
  EXPECT_FALSE(parse_rankfile("rank 0=a slot=0\nrank 0=b slot=0\n", out, error));
  EXPECT_NE(error.find("twice"), std::string::npos) << error;
  EXPECT_FALSE(parse_rankfile("rank 0=a slot=0\nrank 2=b slot=0\n", out, error));
  EXPECT_NE(error.find("not rank 1"), std::string::npos) << error;
  EXPECT_FALSE(parse_rankfile("\n# nothing\n", out, error));
}

TEST(Hostfile, ParsesSlotsAndRejectsUnknownWords) {
  std::vector<NodeSlots> out;
  std::string error;
  ASSERT_TRUE(parse_hostfile("node01 slots=2\nnode02 slots=4 max_slots=8  # big\nnode03\n", out, error)) << error;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].slots, 4);
  EXPECT_EQ(out[2].slots, 1);
  EXPECT_FALSE(parse_hostfile("node01 cpus=2\n", out, error));
  EXPECT_NE(error.find("cpus=2"), std::string::npos) << error;
  EXPECT_FALSE(parse_hostfile("a\na\n", out, error));
  EXPECT_FALSE(parse_hostfile("node01 slots=0\n", out, error));
}

TEST(Nodelist, ExpandsSlurmRanges) {
  std::vector<std::string> out;
  std::string error;
  ASSERT_TRUE(expand_nodelist("node[01-03,07],gpu1,rack[8-10]-x", out, error)) << error;
  const std::vector<std::string> want = {"node01", "node02", "node03", "node07", "gpu1", "rack8-x", "rack9-x", "rack10-x"};
  EXPECT_EQ(out, want);
  EXPECT_FALSE(expand_nodelist("node[01-03", out, error));
  EXPECT_FALSE(expand_nodelist("node[5-3]", out, error));
  EXPECT_FALSE(expand_nodelist("", out, error));
}

}  // namespace
}  // namespace ferry::supervisor
