// Checkpoint images (src/migrate/image.cc, crc32c.cc) and `ferry images`: a round trip, then
// every kind of damage a reader must catch and every kind of failure a writer must survive.
#include "migrate/image.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace ferry::migrate::detail {
std::uint32_t crc32c_portable(const void* data, std::size_t bytes, std::uint32_t crc) noexcept;
bool crc32c_hardware_available() noexcept;
}  // namespace ferry::migrate::detail

namespace ferry::migrate {
namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
  std::vector<std::uint8_t> v(n);
  std::mt19937_64 rng(seed);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

TEST(Crc32c, CheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(detail::crc32c_portable("123456789", 9, 0), 0xE3069283u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
  const std::vector<std::uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
}

TEST(Crc32c, ChainsAndAgreesWithPortableAtEveryLengthAndAlignment) {
  const auto data = random_bytes(200000, 1);
  for (std::size_t n : {0, 1, 7, 8, 9, 255, 256, 767, 768, 769, 24575, 24576, 24577, 100003, 199990}) {
    for (std::size_t offset = 0; offset < 9; ++offset) {
      const std::uint8_t* p = data.data() + offset;
      const std::uint32_t whole = crc32c(p, n);
      EXPECT_EQ(whole, detail::crc32c_portable(p, n, 0)) << n << " bytes at +" << offset;
      for (std::size_t cut : {std::size_t{0}, n / 3, n / 2 + 1, n}) {
        if (cut > n) continue;
        EXPECT_EQ(crc32c(p + cut, n - cut, crc32c(p, cut)), whole) << n << " cut at " << cut;
      }
    }
  }
  std::printf("crc32c path on this CPU: %s\n", detail::crc32c_hardware_available() ? "SSE4.2" : "tables");
}

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry_image_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    big_ = random_bytes((20 << 20) + 5, 2);  // several write/read chunks, odd tail
    small_ = random_bytes(4096, 3);
    odd_ = random_bytes(100, 4);
    messages_ = {{0x1234, 1, 7, random_bytes(300, 5)}, {0x1234, 2, 7, {}}, {99, 0, -3, random_bytes(70000, 6)}};
    meta_.job = "job-42";
    meta_.epoch = 3;
    meta_.rank = 5;
    meta_.size = 8;
    meta_.node = "node02";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<RegionView> regions() const {
    return {{1, small_.data(), small_.size()},
            {2, nullptr, 0},
            {3, big_.data(), big_.size()},
            {7, odd_.data(), odd_.size()}};
  }
  std::string write(const std::string& name) {
    const std::string path = dir_ + "/" + name;
    std::string error;
    EXPECT_TRUE(write_image(path, meta_, regions(), messages_, error)) << error;
    return path;
  }
  static void flip(const std::string& path, std::uint64_t offset) {
    const int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    unsigned char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, static_cast<off_t>(offset)), 1);
    b ^= 0xFF;
    ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(offset)), 1);
    ::close(fd);
  }
  static ImageIndex index_of(const std::string& path) {
    ImageReader r;
    std::string error;
    EXPECT_TRUE(r.open(path, error)) << error;
    return r.index();
  }
  // Opening must fail with an error that starts with the path and contains `what`.
  static void expect_open_fails(const std::string& path, const std::string& what) {
    ImageReader r;
    std::string error;
    EXPECT_FALSE(r.open(path, error));
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(what), std::string::npos) << error;
  }
  // Replaces the index with `edit` applied to it, keeping the checksum and sizes consistent, so
  // only what `edit` did is wrong.
  static void rewrite_index(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
    const int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    unsigned char front[32];
    ASSERT_EQ(::pread(fd, front, sizeof front, 0), 32);
    std::uint64_t offset = 0;
    std::uint32_t bytes = 0;
    std::memcpy(&offset, front + 16, 8);
    std::memcpy(&bytes, front + 24, 4);
    std::string text(bytes, '\0');
    ASSERT_EQ(::pread(fd, text.data(), bytes, static_cast<off_t>(offset)), static_cast<ssize_t>(bytes));
    nlohmann::json j = nlohmann::json::parse(text);
    edit(j);
    for (int i = 0; i < 4; ++i) {
      text = j.dump();
      if (j.contains("total_bytes")) j["total_bytes"] = offset + text.size();
    }
    text = j.dump();
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(offset)), 0);
    ASSERT_EQ(::pwrite(fd, text.data(), text.size(), static_cast<off_t>(offset)), static_cast<ssize_t>(text.size()));
    const auto n = static_cast<std::uint32_t>(text.size());
    const std::uint32_t crc = crc32c(text.data(), text.size());
    std::memcpy(front + 24, &n, 4);
    std::memcpy(front + 28, &crc, 4);
    ASSERT_EQ(::pwrite(fd, front, sizeof front, 0), 32);
    ::close(fd);
  }

  std::string dir_;
  std::vector<std::uint8_t> big_, small_, odd_;
  std::vector<DrainedMessage> messages_;
  ImageIndex meta_;
};

TEST_F(ImageTest, RoundTrip) {
  const std::string path = dir_ + "/a/b/rank5.img";  // directories made on the way
  std::string error;
  WriteStats stats;
  ASSERT_TRUE(write_image(path, meta_, regions(), messages_, error, &stats)) << error;
  EXPECT_EQ(stats.bytes, fs::file_size(path));
  EXPECT_GT(stats.seconds, 0);
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  ImageReader r;
  ASSERT_TRUE(r.open(path, error)) << error;
  const ImageIndex& x = r.index();
  EXPECT_EQ(x.job, "job-42");
  EXPECT_EQ(x.epoch, 3u);
  EXPECT_EQ(x.rank, 5u);
  EXPECT_EQ(x.size, 8u);
  EXPECT_EQ(x.node, "node02");
  EXPECT_GT(x.created_ns, 0);
  EXPECT_EQ(x.total_bytes, fs::file_size(path));
  ASSERT_EQ(x.regions.size(), 4u);
  ASSERT_EQ(x.messages.size(), 3u);
  EXPECT_EQ(x.regions[0].offset, kImageFrontBytes);

  const auto expect_region = [&](std::int32_t id, const std::vector<std::uint8_t>& want) {
    const auto* info = r.region(id);
    ASSERT_NE(info, nullptr) << id;
    ASSERT_EQ(info->bytes, want.size());
    std::vector<std::uint8_t> got(want.size() + 1, 0xAB);  // one guard byte past the end
    ASSERT_TRUE(r.read_region(id, got.data(), error)) << error;
    EXPECT_EQ(got.back(), 0xAB) << "region " << id << " overran its buffer";
    got.pop_back();
    EXPECT_TRUE(got == want) << "region " << id;
  };
  expect_region(1, small_);
  expect_region(2, {});
  expect_region(3, big_);
  expect_region(7, odd_);
  EXPECT_EQ(r.region(4), nullptr);
  EXPECT_FALSE(r.read_region(4, nullptr, error));
  EXPECT_EQ(error.rfind(path, 0), 0u) << error;

  std::vector<DrainedMessage> got;
  ASSERT_TRUE(r.read_messages(got, error)) << error;
  ASSERT_EQ(got.size(), messages_.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].comm, messages_[i].comm);
    EXPECT_EQ(got[i].source, messages_[i].source);
    EXPECT_EQ(got[i].tag, messages_[i].tag);
    EXPECT_TRUE(got[i].data == messages_[i].data) << "message " << i;
  }
  EXPECT_TRUE(r.verify(error)) << error;
}

TEST_F(ImageTest, EmptyImageAndRewriteInPlace) {
  const std::string path = dir_ + "/empty.img";
  std::string error;
  ASSERT_TRUE(write_image(path, meta_, {}, {}, error)) << error;
  EXPECT_TRUE(index_of(path).regions.empty());
  meta_.epoch = 4;
  ASSERT_TRUE(write_image(path, meta_, regions(), messages_, error)) << error;
  ImageReader r;
  ASSERT_TRUE(r.open(path, error)) << error;
  EXPECT_EQ(r.index().epoch, 4u);
  EXPECT_TRUE(r.verify(error)) << error;
}

TEST_F(ImageTest, FlippedRegionByteNamesFileAndRegion) {
  const std::string path = write("r.img");
  const ImageIndex::Region big = index_of(path).regions[2];
  flip(path, big.offset + big.bytes / 2 + 12345);  // a later chunk, not the first
  ImageReader r;
  std::string error;
  ASSERT_TRUE(r.open(path, error)) << error;  // the index is intact
  EXPECT_FALSE(r.verify(error));
  EXPECT_EQ(error.rfind(path + ": region 3: checksum mismatch", 0), 0u) << error;
  std::vector<std::uint8_t> buf(big_.size());
  EXPECT_FALSE(r.read_region(3, buf.data(), error));
  EXPECT_NE(error.find("region 3"), std::string::npos) << error;
  EXPECT_TRUE(r.read_region(1, buf.data(), error)) << error;
}

TEST_F(ImageTest, FlippedMessageByte) {
  const std::string path = write("m.img");
  flip(path, index_of(path).messages[2].offset + 69999);  // the last byte of the last message
  ImageReader r;
  std::string error;
  ASSERT_TRUE(r.open(path, error)) << error;
  EXPECT_FALSE(r.verify(error));
  EXPECT_EQ(error.rfind(path + ": message 2: checksum mismatch", 0), 0u) << error;
  std::vector<DrainedMessage> got;
  EXPECT_FALSE(r.read_messages(got, error));
  EXPECT_NE(error.find("message 2"), std::string::npos) << error;
  EXPECT_TRUE(got.empty());
}

TEST_F(ImageTest, FlippedIndexByte) {
  const std::string path = write("i.img");
  flip(path, fs::file_size(path) - 10);
  expect_open_fails(path, "index checksum mismatch");
}

TEST_F(ImageTest, FlippedFrontBlockBytes) {
  const std::string path = write("f.img");
  const std::pair<std::uint64_t, const char*> cases[] = {{0, "not a ferry image"},
                                                         {8, "format version"},
                                                         {12, "unknown flags"},
                                                         {16, "index"},
                                                         {20, "index"},
                                                         {24, "index"},
                                                         {28, "index checksum"},
                                                         {4095, "front block damaged"},
                                                         {200, "front block damaged"}};
  for (const auto& [offset, what] : cases) {
    SCOPED_TRACE("byte " + std::to_string(offset));
    flip(path, offset);
    expect_open_fails(path, what);
    flip(path, offset);  // back
  }
  ImageReader r;
  std::string error;
  EXPECT_TRUE(r.open(path, error) && r.verify(error)) << error;
}

TEST_F(ImageTest, Truncated) {
  const std::string path = write("t.img");
  const auto size = fs::file_size(path);
  for (std::uint64_t keep : {size - 1, size / 2, std::uint64_t{kImageFrontBytes}, std::uint64_t{100}}) {
    SCOPED_TRACE(keep);
    fs::resize_file(path, keep);
    expect_open_fails(path, "truncated");
  }
  fs::resize_file(path, 0);
  expect_open_fails(path, "not a ferry image");
}

TEST_F(ImageTest, IndexThatLiesAboutExtentsOrTypes) {
  const std::string path = write("x.img");
  rewrite_index(path, [](nlohmann::json& j) { j["regions"][2]["bytes"] = 1ull << 40; });
  expect_open_fails(path, "truncated: region 3 ends at byte");
  rewrite_index(
      path, [](nlohmann::json& j) { j["regions"][2]["bytes"] = (20 << 20) + 5 + 70410; });  // past the index's start
  expect_open_fails(path, "region 3 overlaps the index");
  rewrite_index(path, [&](nlohmann::json& j) {
    j["regions"][2]["bytes"] = big_.size();
    j["rank"] = "five";
  });
  expect_open_fails(path, "rank");
  rewrite_index(path, [](nlohmann::json& j) {
    j["rank"] = 5;
    j.erase("node");
  });
  expect_open_fails(path, "node is missing");
  rewrite_index(path, [](nlohmann::json& j) {
    j["node"] = "n";
    j["messages"][1]["tag"] = 1ll << 40;
  });
  expect_open_fails(path, "messages[1].tag");
  rewrite_index(path, [](nlohmann::json& j) {
    j["messages"][1]["tag"] = 7;
    j["regions"][1]["id"] = 1;
  });
  expect_open_fails(path, "region 1 appears twice");
  rewrite_index(path, [](nlohmann::json& j) { j["regions"][1]["id"] = 2; });
  ImageReader r;
  std::string error;
  EXPECT_TRUE(r.open(path, error) && r.verify(error)) << error;  // the helper itself is faithful
}

TEST_F(ImageTest, WrongMagicAndFutureVersion) {
  const std::string junk = dir_ + "/junk.img";
  std::FILE* f = std::fopen(junk.c_str(), "w");
  std::fputs("hello, this is not an image at all\n", f);
  std::fclose(f);
  expect_open_fails(junk, "not a ferry image");

  const std::string path = write("v.img");
  const int fd = ::open(path.c_str(), O_RDWR);
  const unsigned char seven[4] = {7, 0, 0, 0};
  ASSERT_EQ(::pwrite(fd, seven, 4, 8), 4);
  ::close(fd);
  expect_open_fails(path, "format version 7; this ferry reads version 1");
}

TEST_F(ImageTest, FailedWriteLeavesNoTmpAndOlderImageIntact) {
  const std::string path = dir_ + "/keep.img";
  std::string error;
  const std::vector<std::uint8_t> old_data = random_bytes(1000, 9);
  ASSERT_TRUE(write_image(path, meta_, {{1, old_data.data(), old_data.size()}}, {}, error)) << error;
  const auto old_size = fs::file_size(path);

  // The kernel refuses to grow any file past RLIMIT_FSIZE: EFBIG (SIGXFSZ ignored), as a full
  // disk would refuse with ENOSPC, in the middle of region 3.
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 2 << 20;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  meta_.epoch = 4;
  const bool ok = write_image(path, meta_, regions(), messages_, error);
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);

  EXPECT_FALSE(ok);
  EXPECT_EQ(error, path + ".tmp: cannot write region 3: File too large");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(fs::file_size(path), old_size);
  ImageReader r;
  ASSERT_TRUE(r.open(path, error)) << error;
  EXPECT_EQ(r.index().epoch, 3u);
  EXPECT_TRUE(r.verify(error)) << error;
}

TEST_F(ImageTest, ParentIsAFile) {
  const std::string file = dir_ + "/plain";
  std::FILE* f = std::fopen(file.c_str(), "w");
  std::fclose(f);
  const std::string path = file + "/sub/x.img";
  std::string error;
  EXPECT_FALSE(write_image(path, meta_, regions(), messages_, error));
  EXPECT_EQ(error.rfind(path + ".tmp: cannot create directory", 0), 0u) << error;
}

TEST_F(ImageTest, UnwritableDirectory) {
  // Root ignores permissions, so the write is tried by a child that is not root.
  const std::string ro = dir_ + "/ro";
  const std::string path = ro + "/x.img";
  std::string error;
  ASSERT_TRUE(write_image(path, meta_, {{1, small_.data(), small_.size()}}, {}, error)) << error;
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(ro.c_str(), 0555), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) _exit(3);
    std::string e;
    meta_.epoch = 9;
    const bool ok = write_image(path, meta_, regions(), messages_, e);
    (void)!::write(pipefd[1], e.data(), e.size());
    _exit(ok ? 1 : 0);
  }
  ::close(pipefd[1]);
  char buf[512] = {};
  (void)!::read(pipefd[0], buf, sizeof buf - 1);
  ::close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::chmod(ro.c_str(), 0755);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_NE(WEXITSTATUS(status), 3) << "could not drop privileges";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "write into a read-only directory succeeded";
  EXPECT_EQ(std::string(buf), path + ".tmp: cannot create: Permission denied");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(index_of(path).epoch, 3u);
}

#ifdef FERRY_TEST_FERRY
// Runs `ferry images ARGS` and returns its exit status, with stdout and stderr in `out`.
int ferry_images(const std::string& args, std::string& out) {
  const std::string cmd = std::string(FERRY_TEST_FERRY) + " images " + args + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  out.clear();
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(ImageTest, FerryImagesCommand) {
  const std::string a = write("job/0/rank0.img");
  const std::string b = write("job/0/rank1.img");
  std::FILE* f = std::fopen((dir_ + "/job/0/rank2.img.tmp").c_str(), "w");
  std::fclose(f);
  std::string out;
  EXPECT_EQ(ferry_images(dir_, out), 0) << out;
  EXPECT_NE(out.find(a), std::string::npos) << out;
  EXPECT_NE(out.find("job-42"), std::string::npos) << out;
  EXPECT_NE(out.find("20.1 MiB"), std::string::npos) << out;
  EXPECT_NE(out.find("rank2.img.tmp"), std::string::npos) << out;
  EXPECT_NE(out.find("incomplete"), std::string::npos) << out;
  EXPECT_NE(out.find("2 images, 2 ok"), std::string::npos) << out;

  EXPECT_EQ(ferry_images("--json " + a, out), 0) << out;
  const auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(j.is_array() && j.size() == 1) << out;
  EXPECT_EQ(j[0]["status"], "ok");
  EXPECT_EQ(j[0]["regions"], 4);

  flip(b, index_of(b).regions[2].offset + 5);
  EXPECT_EQ(ferry_images("--quiet " + dir_, out), 1) << out;
  EXPECT_NE(out.find(b + " "), std::string::npos) << out;
  EXPECT_NE(out.find("CORRUPT: region 3: checksum mismatch"), std::string::npos) << out;
  EXPECT_EQ(out.find(a), std::string::npos) << "--quiet lists only what is not ok:\n" << out;
  EXPECT_NE(out.find("2 images, 1 ok, 1 corrupt"), std::string::npos) << out;

  EXPECT_EQ(ferry_images(dir_ + "/nothing-here", out), 2) << out;
  EXPECT_NE(out.find("nothing-here"), std::string::npos) << out;
  EXPECT_EQ(ferry_images("", out), 2) << out;
  EXPECT_EQ(ferry_images("--bogus " + dir_, out), 2) << out;
  EXPECT_EQ(ferry_images("--help", out), 0) << out;
  EXPECT_NE(out.find("usage: ferry images"), std::string::npos) << out;
}
#endif

}  // namespace
}  // namespace ferry::migrate
