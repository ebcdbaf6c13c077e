#include <algorithm>

#include "core/registry.h"

namespace ferry::core {

const std::vector<ComponentInfo>& components() {
  static const std::vector<ComponentInfo> all = {
      {"crs", "self", "the application's protected regions (ferry_protect) and its checkpoint/restore callbacks",
       {"migrate.local_dir"}},
      {"filem", "mpi",
       "a moving rank streams its image over MPI to a rank on its new node, which writes it to that node's local "
       "storage",
       {"migrate.local_dir"}},
      {"filem", "shared", "images are written to a directory every node sees; nothing needs to move",
       {"migrate.shared_dir"}},
  };
  return all;
}

std::string component_names(std::string_view kind) {
  std::vector<std::string_view> names;
  for (const auto& c : components())
    if (c.kind == kind) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

}  // namespace ferry::core
