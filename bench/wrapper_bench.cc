// Per-call cost of ferry's PMPI wrappers: each benchmark comes as a pair, the bare PMPI_ call
// and the MPI_ call that libferry intercepts, run in the same process with ferry enabled. The
// difference of their medians is what ferry adds to one call of the application.
//
//   wrapper_bench [google-benchmark flags]
//
// main() always enables ferry (FERRY_ENABLE=1, overriding the environment) and, unless the
// environment already says otherwise, turns off the end-of-job table (FERRY_MONITOR_TABLE=0).
// Other FERRY_* settings (e.g. FERRY_MONITOR_INTERVAL) pass through. MPI starts as a singleton:
// no mpirun. Unless given on the command line, --benchmark_repetitions=10 and
// --benchmark_enable_random_interleaving=true are added; the summary at the end compares the
// medians of the CPU time per iteration (the real time is printed too: on a shared machine
// preemption inflates it, on a quiet one the two agree).
//
// Heap allocations are counted by defining malloc & co. in this binary, forwarding to glibc's
// __libc_* entry points; glibc lets an executable replace its allocator this way, and every
// library in the process (libferry, libmpi, libstdc++) then allocates through these functions.
// allocs_per_call counts the benchmark thread only (the thread making the calls); bg_allocs is
// what ferry's and MPI's other threads allocated meanwhile (a total, not per call).
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <malloc.h>
#include <mpi.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "ferry/ferry.h"

// --- allocation counting -------------------------------------------------------------------

extern "C" {
void* __libc_malloc(std::size_t size);
void __libc_free(void* p);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void* __libc_valloc(std::size_t size);
void* __libc_pvalloc(std::size_t size);
}

namespace {

std::atomic<std::uint64_t> g_allocs_all{0};
// Initial-exec TLS of the executable lives in the static TLS block: reading it never allocates,
// so it is safe inside malloc, on any thread, from the first call on.
__attribute__((tls_model("initial-exec"))) thread_local std::uint64_t t_allocs = 0;

inline void note_alloc() noexcept {
  ++t_allocs;
  g_allocs_all.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {

void* malloc(std::size_t size) noexcept {
  note_alloc();
  return __libc_malloc(size);
}

void free(void* p) noexcept { __libc_free(p); }

void* calloc(std::size_t n, std::size_t size) noexcept {
  note_alloc();
  return __libc_calloc(n, size);
}

void* realloc(void* p, std::size_t size) noexcept {
  note_alloc();
  return __libc_realloc(p, size);
}

void* reallocarray(void* p, std::size_t n, std::size_t size) noexcept {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  note_alloc();
  return __libc_realloc(p, bytes);
}

void* memalign(std::size_t alignment, std::size_t size) noexcept {
  note_alloc();
  return __libc_memalign(alignment, size);
}

void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  note_alloc();
  return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  note_alloc();
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(std::size_t size) noexcept {
  note_alloc();
  return __libc_valloc(size);
}

void* pvalloc(std::size_t size) noexcept {
  note_alloc();
  return __libc_pvalloc(size);
}

}  // extern "C"

// --- benchmarks ----------------------------------------------------------------------------

namespace {

int g_rank = 0;  // in MPI_COMM_WORLD (0: singleton)

// Runs `body` once per iteration and attaches the allocation counters of the timed loop.
template <class Body>
void run_counted(benchmark::State& state, Body&& body) {
  const std::uint64_t mine0 = t_allocs;
  const std::uint64_t all0 = g_allocs_all.load(std::memory_order_relaxed);
  for (auto _ : state) body();
  const std::uint64_t mine = t_allocs - mine0;
  const std::uint64_t all = g_allocs_all.load(std::memory_order_relaxed) - all0;
  state.counters["allocs_per_call"] =
      benchmark::Counter(static_cast<double>(mine), benchmark::Counter::kAvgIterations);
  state.counters["bg_allocs"] = benchmark::Counter(static_cast<double>(all - mine));
}

// MPI_Comm_rank: intercepted calls are counted but not timed.
void BM_PMPI_Comm_rank(benchmark::State& state) {
  run_counted(state, [] {
    int rank = -1;
    PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
    benchmark::DoNotOptimize(rank);
  });
}

void BM_MPI_Comm_rank(benchmark::State& state) {
  run_counted(state, [] {
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    benchmark::DoNotOptimize(rank);
  });
}

// MPI_Iprobe with nothing pending: the cheapest call ferry times (two clock reads).
void BM_PMPI_Iprobe(benchmark::State& state) {
  int flag = 0;
  run_counted(state, [&flag] {
    PMPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    benchmark::DoNotOptimize(flag);
  });
  if (flag) state.SkipWithError("a message was pending: the benchmark needs an empty queue");
}

void BM_MPI_Iprobe(benchmark::State& state) {
  int flag = 0;
  run_counted(state, [&flag] {
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    benchmark::DoNotOptimize(flag);
  });
  if (flag) state.SkipWithError("a message was pending: the benchmark needs an empty queue");
}

// MPI_Test of MPI_REQUEST_NULL: completes at once (flag = true), so this is the wrapper's timed
// path plus its completion bookkeeping, with next to nothing inside MPI.
void BM_PMPI_Test(benchmark::State& state) {
  MPI_Request request = MPI_REQUEST_NULL;
  run_counted(state, [&request] {
    int flag = 0;
    benchmark::DoNotOptimize(request);
    PMPI_Test(&request, &flag, MPI_STATUS_IGNORE);
    benchmark::DoNotOptimize(flag);
  });
}

void BM_MPI_Test(benchmark::State& state) {
  MPI_Request request = MPI_REQUEST_NULL;
  run_counted(state, [&request] {
    int flag = 0;
    benchmark::DoNotOptimize(request);
    MPI_Test(&request, &flag, MPI_STATUS_IGNORE);
    benchmark::DoNotOptimize(flag);
  });
}

// An 8-byte message to self: Irecv + Isend + Waitall(2), three intercepted calls per iteration.
// Exercises the counted point-to-point path: per-peer send count, request table insert/take,
// receive count from the status.
void BM_PMPI_Isend_Irecv_Waitall(benchmark::State& state) {
  char send[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  char recv[8] = {};
  run_counted(state, [&] {
    MPI_Request req[2];
    PMPI_Irecv(recv, 8, MPI_BYTE, g_rank, 7, MPI_COMM_WORLD, &req[0]);
    PMPI_Isend(send, 8, MPI_BYTE, g_rank, 7, MPI_COMM_WORLD, &req[1]);
    PMPI_Waitall(2, req, MPI_STATUSES_IGNORE);
    benchmark::DoNotOptimize(recv);
  });
}

void BM_MPI_Isend_Irecv_Waitall(benchmark::State& state) {
  char send[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  char recv[8] = {};
  run_counted(state, [&] {
    MPI_Request req[2];
    MPI_Irecv(recv, 8, MPI_BYTE, g_rank, 7, MPI_COMM_WORLD, &req[0]);
    MPI_Isend(send, 8, MPI_BYTE, g_rank, 7, MPI_COMM_WORLD, &req[1]);
    MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
    benchmark::DoNotOptimize(recv);
  });
}

// Reference, not a pair: the two clock reads every timed wrapper makes (ferry uses the TSC when
// /proc/cpuinfo says it is invariant, as here; CLOCK_MONOTONIC otherwise).
void BM_ref_rdtsc_x2(benchmark::State& state) {
  run_counted(state, [] {
    const std::uint64_t a = __rdtsc();
    const std::uint64_t b = __rdtsc();
    benchmark::DoNotOptimize(b - a);
  });
}

// Reference: checks the allocation counter itself (allocs_per_call must read 1 here).
void BM_ref_malloc(benchmark::State& state) {
  run_counted(state, [] {
    void* p = std::malloc(16);
    benchmark::DoNotOptimize(p);
    std::free(p);
  });
}

BENCHMARK(BM_PMPI_Comm_rank)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_MPI_Comm_rank)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_PMPI_Iprobe)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_MPI_Iprobe)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_PMPI_Test)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_MPI_Test)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_PMPI_Isend_Irecv_Waitall)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_MPI_Isend_Irecv_Waitall)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_ref_rdtsc_x2)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_ref_malloc)->Unit(benchmark::kNanosecond);

// --- summary -------------------------------------------------------------------------------

struct Pair {
  const char* name;      // suffix after BM_PMPI_ / BM_MPI_
  const char* label;     // what the summary calls it
  int calls;             // intercepted calls per iteration
  double target_ns;      // added cost allowed per call; <= 0: no target set
  bool zero_allocs;      // the intercepted version must not allocate
};

// Only MPI_Comm_rank has a stated target (<= 30 ns). The timed wrappers are reported for
// reference; allocations must be zero for all three cheap calls.
constexpr Pair kPairs[] = {
    {"Comm_rank", "MPI_Comm_rank", 1, 30.0, true},
    {"Iprobe", "MPI_Iprobe", 1, 0.0, true},
    {"Test", "MPI_Test", 1, 0.0, true},
    {"Isend_Irecv_Waitall", "MPI_Irecv+MPI_Isend+MPI_Waitall", 3, 0.0, false},
};

double to_ns(double t, benchmark::TimeUnit unit) {
  switch (unit) {
    case benchmark::kNanosecond: return t;
    case benchmark::kMicrosecond: return t * 1e3;
    case benchmark::kMillisecond: return t * 1e6;
    case benchmark::kSecond: return t * 1e9;
  }
  return t;
}

template <class... A>
std::string format(const char* fmt, A... a) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a...);
  return buf;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Console output as usual, plus the per-pair comparison once every benchmark has run.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  using benchmark::ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      Result& res = results_[r.run_name.function_name];
      const auto allocs = r.counters.find("allocs_per_call");
      const double a = allocs == r.counters.end() ? 0.0 : allocs->second.value;
      if (r.run_type == Run::RT_Aggregate) {
        // With --benchmark_report_aggregates_only only these arrive.
        res.repetitions = r.repetitions;
        if (r.aggregate_name == "median") {
          res.agg_real_ns = to_ns(r.GetAdjustedRealTime(), r.time_unit);
          res.agg_cpu_ns = to_ns(r.GetAdjustedCPUTime(), r.time_unit);
        } else if (r.aggregate_name == "mean") {
          res.agg_mean_allocs = a;
        }
        continue;
      }
      res.real_ns.push_back(to_ns(r.GetAdjustedRealTime(), r.time_unit));
      res.cpu_ns.push_back(to_ns(r.GetAdjustedCPUTime(), r.time_unit));
      res.max_allocs = std::max(res.max_allocs, a);
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    out << "\nferry wrapper cost: medians over repetitions of the CPU time per iteration,\n"
           "added = MPI_ (intercepted) - PMPI_ (real time, which preemption by other processes\n"
           "inflates on a shared machine, is shown below each line)\n";
    for (const Pair& p : kPairs) {
      const auto base = results_.find(std::string("BM_PMPI_") + p.name);
      const auto wrapped = results_.find(std::string("BM_MPI_") + p.name);
      if (base == results_.end() || wrapped == results_.end()) continue;  // filtered out
      const Result& b = base->second;
      const Result& w = wrapped->second;
      const double added = w.cpu() - b.cpu();
      const double added_real = w.real() - b.real();
      out << format("added cost %s: %.1f ns", p.label, added);
      if (p.calls > 1) out << format(" per iteration = %.1f ns per call", added / p.calls);
      if (p.target_ns > 0)
        out << format(" (target <= %.0f ns) %s", p.target_ns * p.calls, added <= p.target_ns * p.calls ? "PASS" : "FAIL");
      else
        out << " (no target set)";
      out << format("\n  cpu: PMPI %.1f ns, MPI %.1f ns; real: PMPI %.1f ns, MPI %.1f ns, added %.1f ns; %d repetitions\n",
                    b.cpu(), w.cpu(), b.real(), w.real(), added_real, w.reps());
      out << format("  allocs per call %s: %g (PMPI %g)", p.label, w.allocs() / p.calls, b.allocs() / p.calls);
      if (p.zero_allocs)
        out << format(" (target 0) %s\n", w.allocs() == 0 ? "PASS" : "FAIL");
      else
        out << " (no target set)\n";
    }
    if (const auto r = results_.find("BM_ref_rdtsc_x2"); r != results_.end())
      out << format("reference: two back-to-back rdtsc reads (the clock reads of a timed wrapper; out-of-order execution hides part of them): cpu %.1f ns, real %.1f ns\n",
                    r->second.cpu(), r->second.real());
    if (const auto r = results_.find("BM_ref_malloc"); r != results_.end())
      out << format("allocation counter check: %g allocs per malloc+free iteration (expect 1) %s\n", r->second.allocs(),
                    r->second.allocs() == 1 ? "OK" : "BROKEN: the allocs figures above mean nothing");
    out.flush();
  }

 private:
  struct Result {
    std::vector<double> real_ns, cpu_ns;  // one per repetition
    double max_allocs = 0;                // allocs_per_call, largest over repetitions
    double agg_real_ns = -1, agg_cpu_ns = -1, agg_mean_allocs = 0;
    int repetitions = 0;

    double real() const { return real_ns.empty() ? agg_real_ns : median_of(real_ns); }
    double cpu() const { return cpu_ns.empty() ? agg_cpu_ns : median_of(cpu_ns); }
    double allocs() const { return real_ns.empty() ? agg_mean_allocs : max_allocs; }
    int reps() const { return real_ns.empty() ? repetitions : static_cast<int>(real_ns.size()); }
  };
  std::map<std::string, Result> results_;
};

bool has_flag(int argc, char** argv, const char* prefix) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], prefix, std::strlen(prefix)) == 0) return true;
  return false;
}

std::string library_of(const char* symbol) {
  void* p = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info{};
  if (p == nullptr || dladdr(p, &info) == 0 || info.dli_fname == nullptr) return "?";
  return info.dli_fname;
}

}  // namespace

int main(int argc, char** argv) {
  setenv("FERRY_ENABLE", "1", 1);
  setenv("FERRY_MONITOR_TABLE", "0", 0);

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  if (!ferry_enabled()) {
    std::fprintf(stderr, "wrapper_bench: ferry did not enable itself (see its messages above)\n");
    MPI_Finalize();
    return 1;
  }
  const std::string wrapper_lib = library_of("MPI_Comm_rank");
  benchmark::AddCustomContext("ferry", std::string(ferry_version()) + " enabled");
  benchmark::AddCustomContext("MPI_Comm_rank from", wrapper_lib);
  benchmark::AddCustomContext("PMPI_Comm_rank from", library_of("PMPI_Comm_rank"));
  if (wrapper_lib.find("libferry") == std::string::npos) {
    std::fprintf(stderr, "wrapper_bench: MPI_Comm_rank resolves to %s, not libferry\n", wrapper_lib.c_str());
    MPI_Finalize();
    return 1;
  }

  std::vector<char*> args(argv, argv + argc);
  static char repetitions[] = "--benchmark_repetitions=10";
  if (!has_flag(argc, argv, "--benchmark_repetitions")) args.push_back(repetitions);
  // Repetitions of all benchmarks in random order: a burst of load from elsewhere on the machine
  // then hits PMPI_ and MPI_ alike instead of one side of a pair.
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (!has_flag(argc, argv, "--benchmark_enable_random_interleaving")) args.push_back(interleave);
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) {
    MPI_Finalize();
    return 1;
  }

  SummaryReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                 : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  MPI_Finalize();
  return 0;
}
