# Unit tests of src/exporters. Include after src/exporters/exporters.cmake (needs ferry_exporters).
# exposer_test runs promtool (Debian package `prometheus`) via popen; it is looked up here so the
# test can report a clear failure when it is missing.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
include(GoogleTest)
find_program(FERRY_PROMTOOL promtool)

add_executable(exporters_unit_test
  ${CMAKE_CURRENT_LIST_DIR}/metrics_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/exposition_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/exposer_test.cc)
target_link_libraries(exporters_unit_test PRIVATE ferry_exporters GTest::gtest_main)
target_compile_definitions(exporters_unit_test PRIVATE
  FERRY_TEST_PROMTOOL="$<IF:$<BOOL:${FERRY_PROMTOOL}>,${FERRY_PROMTOOL},promtool>")
gtest_discover_tests(exporters_unit_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
