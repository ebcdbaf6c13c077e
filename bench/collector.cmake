# Collector ingest benchmark (collector_bench.cc): samples/s one in-process Collector absorbs from
# 1000 / 10000 loopback connections. Included from bench/CMakeLists.txt, after add_custom_target(bench).
# Needs ferry_monitor (it holds monitor/collector.cc and pulls in ferry_core) and Google Benchmark.
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark REQUIRED)
endif()

add_executable(collector_bench ${CMAKE_CURRENT_LIST_DIR}/collector_bench.cc)
target_link_libraries(collector_bench PRIVATE ferry_monitor benchmark::benchmark)
target_compile_features(collector_bench PRIVATE cxx_std_20)

if(TARGET bench)
  add_dependencies(bench collector_bench)
endif()
