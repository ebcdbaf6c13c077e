# ferry_exporters: the metrics model, Prometheus/OpenMetrics exposition and the civetweb exposer.
# Include from a project whose PROJECT_SOURCE_DIR is the ferry checkout (headers are included as
# "exporters/..." relative to ${PROJECT_SOURCE_DIR}/src). Needs Threads and the civetweb package.
if(NOT TARGET Threads::Threads)
  find_package(Threads REQUIRED)
endif()
# Debian 12's civetweb CMake package cannot be used: its targets file checks for /usr/bin/civetweb
# (shipped by the separate `civetweb` package) and fails with FATAL_ERROR, which QUIET does not
# suppress. So unless the includer already has civetweb::civetweb, find the C library directly.
if(NOT TARGET civetweb::civetweb)
  find_path(FERRY_CIVETWEB_INCLUDE_DIR civetweb.h REQUIRED)
  find_library(FERRY_CIVETWEB_LIBRARY civetweb REQUIRED)
  add_library(civetweb::civetweb UNKNOWN IMPORTED)
  set_target_properties(civetweb::civetweb PROPERTIES
    IMPORTED_LOCATION ${FERRY_CIVETWEB_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${FERRY_CIVETWEB_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES ${CMAKE_DL_LIBS})
endif()

add_library(ferry_exporters STATIC
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/exposition.cc
  ${CMAKE_CURRENT_LIST_DIR}/exposer.cc)
target_include_directories(ferry_exporters PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(ferry_exporters PUBLIC Threads::Threads PRIVATE civetweb::civetweb)
target_compile_features(ferry_exporters PUBLIC cxx_std_20)
# Static archive that may end up in a shared object later.
set_target_properties(ferry_exporters PROPERTIES POSITION_INDEPENDENT_CODE ON)
