// text_format cost at supervisor scale: the per-rank metrics of DESIGN §9 for 1k and 10k ranks on
// 10 nodes. Target: <= 50 ms per scrape at 10k ranks, so a 15 s scrape interval costs < 0.5% CPU.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "exporters/exposition.h"
#include "exporters/metrics.h"

namespace {

using ferry::exporters::Labels;
using ferry::exporters::Registry;

std::unique_ptr<Registry> rank_registry(int ranks) {
  auto r = std::make_unique<Registry>();
  auto& compute = r->counter_family("ferry_rank_compute_seconds_total",
                                    "Seconds the rank spent computing (outside MPI).");
  auto& mpi = r->counter_family("ferry_rank_mpi_seconds_total", "Seconds the rank spent in MPI.");
  auto& cpu = r->counter_family("ferry_rank_cpu_seconds_total", "CPU seconds used by the rank.");
  auto& load = r->gauge_family("ferry_rank_load_ratio", "Rank load relative to the job mean.");
  for (int rank = 0; rank < ranks; ++rank) {
    const Labels labels{{"job", "heat2d-20240101-1"},
                        {"node", "node" + std::to_string(rank % 10)},
                        {"rank", std::to_string(rank)}};
    // Realistic non-integer values so the float formatting path is what gets measured.
    compute.add(labels).inc(1234.5678 + rank * 0.001);
    mpi.add(labels).inc(98.765 + rank * 0.0001);
    cpu.add(labels).inc(1333.25 + rank);
    load.add(labels).set(0.9 + (rank % 100) * 0.002);
  }
  return r;
}

void BM_TextFormat(benchmark::State& state) {
  const auto registry = rank_registry(static_cast<int>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out = ferry::exporters::text_format(*registry);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_TextFormat)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_OpenMetricsFormat(benchmark::State& state) {
  const auto registry = rank_registry(static_cast<int>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out = ferry::exporters::openmetrics_format(*registry);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_OpenMetricsFormat)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
