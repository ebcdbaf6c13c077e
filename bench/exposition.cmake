# Exposition benchmark (exposition_bench.cc): text_format time and size at 1k / 10k ranks.
# Include after src/exporters/exporters.cmake (needs ferry_exporters) and, optionally, after
# add_custom_target(bench).
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark REQUIRED)
endif()

add_executable(exposition_bench ${CMAKE_CURRENT_LIST_DIR}/exposition_bench.cc)
target_link_libraries(exposition_bench PRIVATE ferry_exporters benchmark::benchmark)
target_compile_features(exposition_bench PRIVATE cxx_std_20)

if(TARGET bench)
  add_dependencies(bench exposition_bench)
endif()
