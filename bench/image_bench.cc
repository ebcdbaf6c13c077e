// Checkpoint image throughput (src/migrate/image.cc, crc32c.cc): what checksumming, the front
// block, the index, the .tmp + fsync + rename + directory fsync cost on top of writing the same
// bytes plainly, and what reading back with checksums costs on top of a plain read.
//
//   image_bench [--dir=/var/tmp/ferry_image_bench] [--mib=256] [--rounds=5]
//               [google-benchmark flags, e.g. --benchmark_filter=crc32c]
//
//   crc32c/N           the public crc32c() (SSE4.2, three streams, where the CPU has it) on N bytes
//   crc32c_portable/N  the slicing-by-8 fallback on the same buffers
//   write_pair         per round: write()+fsync of MIB bytes to a new file in --dir, then
//                      write_image() of the same bytes (4 regions + 16 drained messages) to --dir;
//                      both timed, so machine noise hits both alike. Manual time = the image's.
//   read_pair/cold     per round, page cache dropped for both files (POSIX_FADV_DONTNEED on the
//                      fsynced files): pread() of the plain file into a buffer, then
//                      ImageReader::open + read_region of every region into the same buffer
//   read_pair/warm     the same with both files in the page cache (memory-speed restore)
//   verify/cold        ImageReader::open + verify(): what `ferry images` does per file
//
// Counters: GBps (of the timed side), plain_GBps, ratio = image seconds / plain seconds. The last
// lines give, per pair, the medians over rounds:
//   image write: X GB/s vs plain write+fsync Y GB/s: ratio R
// Files are removed at the end. Exit status 0, or 2 for a usage error.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "migrate/image.h"

namespace ferry::migrate::detail {
std::uint32_t crc32c_portable(const void* data, std::size_t bytes, std::uint32_t crc) noexcept;
bool crc32c_hardware_available() noexcept;
}  // namespace ferry::migrate::detail

namespace {

namespace fs = std::filesystem;
namespace mig = ferry::migrate;
using Clock = std::chrono::steady_clock;

struct Settings {
  std::string dir = "/var/tmp/ferry_image_bench";
  std::size_t mib = 256;
  int rounds = 5;
} g_settings;

std::vector<std::uint8_t> g_data;      // the "application memory" written
std::vector<std::uint8_t> g_readback;  // where reads land
std::vector<mig::DrainedMessage> g_messages;
// Per pair name: (image seconds, plain seconds) of every round.
std::map<std::string, std::vector<std::pair<double, double>>> g_pairs;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void make_data() {
  g_data.resize(g_settings.mib << 20);
  std::mt19937_64 rng(7);
  for (std::size_t i = 0; i + 8 <= g_data.size(); i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(&g_data[i], &v, 8);
  }
  g_readback.assign(g_data.size(), 0);  // touched now, so reads never count page faults
  for (int i = 0; i < 16; ++i)
    g_messages.push_back({1, i, 0, std::vector<std::uint8_t>(g_data.begin(), g_data.begin() + 1000 * (i + 1))});
}

std::vector<mig::RegionView> regions() {
  std::vector<mig::RegionView> r;
  const std::size_t quarter = g_data.size() / 4;
  for (int i = 0; i < 4; ++i)
    r.push_back({i, g_data.data() + i * quarter, i == 3 ? g_data.size() - 3 * quarter : quarter});
  return r;
}

std::string plain_path() { return g_settings.dir + "/plain.bin"; }
std::string image_path() { return g_settings.dir + "/rank0.img"; }

bool plain_write(std::string& error) {
  ::unlink(plain_path().c_str());  // like the image's rename, which frees the old file
  const int fd = ::open(plain_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = plain_path() + ": " + std::strerror(errno);
    return false;
  }
  for (std::size_t done = 0; done < g_data.size();) {
    const ssize_t w = ::write(fd, g_data.data() + done, g_data.size() - done);
    if (w <= 0) {
      error = plain_path() + ": write: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(w);
  }
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) error = plain_path() + ": fsync failed";
  return ok;
}

// Odd rounds run the image first: whatever the disk or the host does between the two halves
// (writeback, journal commits) lands on each side equally often.
bool write_both(int round, double& image_s, double& plain_s, std::string& error) {
  ::sync();  // nothing dirty from before is flushed inside a timed fsync
  mig::ImageIndex meta;
  meta.job = "bench";
  meta.size = 1;
  meta.node = "here";
  for (int half = 0; half < 2; ++half) {
    const auto t = Clock::now();
    if ((half == 0) == (round % 2 == 0)) {
      if (!plain_write(error)) return false;
      plain_s = seconds_since(t);
    } else {
      if (!mig::write_image(image_path(), meta, regions(), g_messages, error)) return false;
      image_s = seconds_since(t);
    }
  }
  return true;
}

void drop_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void report(benchmark::State& state, const std::string& pair, double image_s, double plain_s) {
  g_pairs[pair].push_back({image_s, plain_s});
  state.SetIterationTime(image_s);
}

// After a pair's loop: throughput of both sides over all its rounds.
void set_counters(benchmark::State& state, const std::string& pair) {
  double image_s = 0, plain_s = 0;
  for (const auto& [i, p] : g_pairs[pair]) image_s += i, plain_s += p;
  const double gb = static_cast<double>(g_data.size()) / 1e9 * static_cast<double>(g_pairs[pair].size());
  if (image_s <= 0 || plain_s <= 0) return;
  state.counters["GBps"] = gb / image_s;
  state.counters["plain_GBps"] = gb / plain_s;
  state.counters["ratio"] = image_s / plain_s;
}

void BM_Crc32c(benchmark::State& state, bool portable) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::uint32_t crc = 0;
  for (auto _ : state) {
    crc = portable ? mig::detail::crc32c_portable(g_data.data(), n, crc) : mig::crc32c(g_data.data(), n, crc);
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_WritePair(benchmark::State& state) {
  int round = 0;
  for (auto _ : state) {
    double image_s = 0, plain_s = 0;
    std::string error;
    if (!write_both(round++, image_s, plain_s, error)) return state.SkipWithError(error.c_str());
    report(state, "image write", image_s, plain_s);
  }
  set_counters(state, "image write");
}

void BM_ReadPair(benchmark::State& state, bool cold) {
  std::string error;
  double ignored;
  if (!fs::exists(image_path()) && !write_both(0, ignored, ignored, error)) return state.SkipWithError(error.c_str());
  int round = 0;
  for (auto _ : state) {
    if (cold) drop_cache(plain_path()), drop_cache(image_path());
    double image_s = 0, plain_s = 0;
    bool ok = true;
    for (int half = 0; half < 2; ++half) {
      const auto t = Clock::now();
      if ((half == 0) == (round % 2 == 0)) {
        const int fd = ::open(plain_path().c_str(), O_RDONLY | O_CLOEXEC);
        for (std::size_t done = 0; fd >= 0 && done < g_readback.size();) {
          const ssize_t r = ::pread(fd, g_readback.data() + done, g_readback.size() - done, static_cast<off_t>(done));
          if (r <= 0) break;
          done += static_cast<std::size_t>(r);
        }
        ::close(fd);
        plain_s = seconds_since(t);
      } else {
        mig::ImageReader reader;
        ok = reader.open(image_path(), error);
        std::size_t at = 0;
        for (const auto& r : reader.index().regions) {
          ok = ok && reader.read_region(r.id, g_readback.data() + at, error);
          at += r.bytes;
        }
        std::vector<mig::DrainedMessage> messages;
        ok = ok && reader.read_messages(messages, error);
        image_s = seconds_since(t);
      }
    }
    ++round;
    if (!ok) return state.SkipWithError(error.c_str());
    report(state, cold ? "image read (cold)" : "image read (warm)", image_s, plain_s);
  }
  set_counters(state, cold ? "image read (cold)" : "image read (warm)");
}

void BM_Verify(benchmark::State& state) {
  std::string error;
  double ignored;
  if (!fs::exists(image_path()) && !write_both(0, ignored, ignored, error)) return state.SkipWithError(error.c_str());
  double total = 0;
  for (auto _ : state) {
    drop_cache(image_path());
    const auto t = Clock::now();
    mig::ImageReader reader;
    if (!reader.open(image_path(), error) || !reader.verify(error)) return state.SkipWithError(error.c_str());
    const double s = seconds_since(t);
    state.SetIterationTime(s);
    total += s;
  }
  state.counters["GBps"] = static_cast<double>(g_data.size()) / 1e9 * static_cast<double>(state.iterations()) / total;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

bool parse_flags(int& argc, char** argv) {
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    try {
      if (a.rfind("--dir=", 0) == 0)
        g_settings.dir = a.substr(6);
      else if (a.rfind("--mib=", 0) == 0)
        g_settings.mib = std::stoul(a.substr(6));
      else if (a.rfind("--rounds=", 0) == 0)
        g_settings.rounds = std::stoi(a.substr(9));
      else
        argv[kept++] = argv[i];
    } catch (...) {
      std::fprintf(stderr, "image_bench: bad value in \"%s\"\n", a.c_str());
      return false;
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  if (g_settings.mib < 4 || g_settings.rounds < 1) {
    std::fprintf(stderr, "image_bench: --mib must be >= 4 and --rounds >= 1\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (!parse_flags(argc, argv)) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  std::error_code ec;
  fs::create_directories(g_settings.dir, ec);
  make_data();
  std::printf("image_bench: %zu MiB in %s, %d rounds per pair, crc32c path: %s\n", g_settings.mib,
              g_settings.dir.c_str(), g_settings.rounds,
              mig::detail::crc32c_hardware_available() ? "SSE4.2 (3 streams)" : "slicing-by-8 tables");
  std::fflush(stdout);

  for (std::int64_t n : {std::int64_t{4096}, std::int64_t{1} << 20, static_cast<std::int64_t>(g_data.size())}) {
    benchmark::RegisterBenchmark("crc32c", BM_Crc32c, false)->Arg(n);
    benchmark::RegisterBenchmark("crc32c_portable", BM_Crc32c, true)->Arg(n);
  }
  const auto paired = [](benchmark::internal::Benchmark* b) {
    b->Iterations(g_settings.rounds)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
  paired(benchmark::RegisterBenchmark("write_pair", BM_WritePair));
  paired(benchmark::RegisterBenchmark("read_pair/cold", BM_ReadPair, true));
  paired(benchmark::RegisterBenchmark("read_pair/warm", BM_ReadPair, false));
  paired(benchmark::RegisterBenchmark("verify/cold", BM_Verify));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  std::fflush(stdout);
  const double gb = static_cast<double>(g_data.size()) / 1e9;
  for (const auto& [name, rounds] : g_pairs) {
    std::vector<double> image, plain, ratio;
    for (const auto& [i, p] : rounds) image.push_back(i), plain.push_back(p), ratio.push_back(i / p);
    std::printf("%s: %.2f GB/s vs plain %s %.2f GB/s: ratio %.3f (median of %zu rounds; range %.3f..%.3f)\n",
                name.c_str(), gb / median(image), name == "image write" ? "write+fsync" : "pread", gb / median(plain),
                median(ratio), ratio.size(), *std::min_element(ratio.begin(), ratio.end()),
                *std::max_element(ratio.begin(), ratio.end()));
  }
  ::unlink(plain_path().c_str());
  ::unlink(image_path().c_str());
  ::rmdir(g_settings.dir.c_str());
  return 0;
}
