# Checkpoint image benchmark (image_bench.cc): crc32c GB/s, write_image and read-back throughput
# against plain write()+fsync / pread of the same bytes. Included from bench/CMakeLists.txt, after
# add_custom_target(bench). Needs ferry_core (it holds migrate/image.cc and crc32c.cc).
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark REQUIRED)
endif()

add_executable(image_bench ${CMAKE_CURRENT_LIST_DIR}/image_bench.cc)
target_link_libraries(image_bench PRIVATE ferry_core benchmark::benchmark)
target_compile_features(image_bench PRIVATE cxx_std_20)

if(TARGET bench)
  add_dependencies(bench image_bench)
endif()
