// Pluggable components, as Open MPI's MCA has them: for each kind (crs, filem, strategy, ...) a
// small interface, and one name-keyed registry of implementations. The catalog (names,
// descriptions, options) lives here so that `ferry components` and the configuration checks
// know every component without linking the code that implements it; each implementing module
// registers a factory under the same name.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::core {

struct ComponentInfo {
  std::string_view kind;
  std::string_view name;
  std::string_view description;
  std::vector<std::string_view> options;  ///< configuration keys it reads
};

/// Every component ferry has, by kind then name.
const std::vector<ComponentInfo>& components();
/// Names of the components of `kind`, sorted ("mpi, shared").
std::string component_names(std::string_view kind);

/// Factories of one kind's components.
template <class Interface>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Interface>()>;

  explicit Registry(std::string_view kind) : kind_(kind) {}
  void add(std::string name, Factory factory) { factories_[std::move(name)] = std::move(factory); }

  /// A new instance of `name`, or null with `error` naming the components that exist.
  std::unique_ptr<Interface> make(const std::string& name, std::string& error) const {
    auto it = factories_.find(name);
    if (it == factories_.end()) {
      error = std::string(kind_) + ": unknown component \"" + name + "\" (available: " + names() + ")";
      return nullptr;
    }
    return it->second();
  }
  std::string names() const {
    std::string out;
    for (const auto& [name, f] : factories_) out += (out.empty() ? "" : ", ") + name;
    return out;
  }

 private:
  std::string_view kind_;
  std::map<std::string, Factory> factories_;
};

}  // namespace ferry::core
