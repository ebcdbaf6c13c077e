#include "supervisor/placement.h"

#include <map>
#include <set>
#include <sstream>

namespace ferry::supervisor {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool to_int(const std::string& s, int& v) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  v = std::stoi(s);
  return true;
}

std::string slots_summary(const std::vector<NodeSlots>& nodes) {
  std::string s;
  for (const auto& n : nodes) s += (s.empty() ? "" : ", ") + n.name + ":" + std::to_string(n.slots);
  return s;
}

}  // namespace

bool place(int ranks, const std::vector<NodeSlots>& nodes, MapPolicy policy, int cores_per_node,
           std::vector<RankPlace>& out, std::string& error) {
  out.clear();
  if (ranks <= 0) {
    error = "the job needs at least one rank (got " + std::to_string(ranks) + ")";
    return false;
  }
  if (nodes.empty()) {
    error = "no nodes to place ranks on";
    return false;
  }
  int total = 0;
  for (const auto& n : nodes) total += n.slots;
  if (ranks > total) {
    error = std::to_string(ranks) + " ranks need " + std::to_string(ranks) + " slots; the nodes have " +
            std::to_string(total) + " (" + slots_summary(nodes) + ")";
    return false;
  }
  if (cores_per_node <= 0) cores_per_node = 1;
  std::vector<int> used(nodes.size(), 0);
  std::size_t node = 0;
  for (int r = 0; r < ranks; ++r) {
    if (policy == MapPolicy::Block) {
      while (used[node] >= nodes[node].slots) ++node;
    } else {
      while (used[node] >= nodes[node].slots) node = (node + 1) % nodes.size();
    }
    out.push_back({r, nodes[node].name, used[node] % cores_per_node});
    ++used[node];
    if (policy == MapPolicy::Cyclic) node = (node + 1) % nodes.size();
  }
  return true;
}

std::string rankfile_text(const std::vector<RankPlace>& placement) {
  std::string s;
  for (const auto& p : placement)
    s += "rank " + std::to_string(p.rank) + "=" + p.node + " slot=" + std::to_string(p.slot) + "\n";
  return s;
}

bool parse_rankfile(const std::string& text, std::vector<RankPlace>& out, std::string& error) {
  out.clear();
  std::istringstream in(text);
  std::string line;
  std::map<int, RankPlace> by_rank;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const std::string where = "rankfile line " + std::to_string(lineno) + ": ";
    // rank N=HOST slot=S
    RankPlace p;
    const auto eq = line.find('=');
    const auto sp = line.find(" slot=");
    if (line.rfind("rank ", 0) != 0 || eq == std::string::npos || sp == std::string::npos || sp < eq ||
        !to_int(trim(line.substr(5, eq - 5)), p.rank)) {
      error = where + "expected \"rank N=HOST slot=S\", got \"" + line + "\"";
      return false;
    }
    p.node = trim(line.substr(eq + 1, sp - eq - 1));
    const std::string slot = trim(line.substr(sp + 6));
    if (p.node.empty() || !to_int(slot, p.slot)) {
      error = where + "expected \"rank N=HOST slot=S\" with a host and a core number, got \"" + line + "\"";
      return false;
    }
    if (!by_rank.emplace(p.rank, p).second) {
      error = where + "rank " + std::to_string(p.rank) + " is placed twice";
      return false;
    }
  }
  int expect = 0;
  for (auto& [rank, p] : by_rank) {
    if (rank != expect) {
      error = "rankfile places rank " + std::to_string(rank) + " but not rank " + std::to_string(expect) +
              " (ranks must be 0.." + std::to_string(by_rank.size() - 1) + ")";
      return false;
    }
    ++expect;
    out.push_back(p);
  }
  if (out.empty()) {
    error = "rankfile places no rank";
    return false;
  }
  return true;
}

bool parse_hostfile(const std::string& text, std::vector<NodeSlots>& out, std::string& error) {
  out.clear();
  std::istringstream in(text);
  std::string line;
  std::set<std::string> seen;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::istringstream words(line);
    NodeSlots n;
    words >> n.name;
    for (std::string w; words >> w;) {
      int v = 0;
      if (w.rfind("slots=", 0) == 0 && to_int(w.substr(6), v) && v > 0) {
        n.slots = v;
      } else if (w.rfind("max_slots=", 0) == 0 && to_int(w.substr(10), v)) {
        // upper bound only; ferry never oversubscribes a node
      } else {
        error = "hostfile line " + std::to_string(lineno) + ": unknown \"" + w +
                "\" (expected: HOST [slots=N] [max_slots=N])";
        return false;
      }
    }
    if (!seen.insert(n.name).second) {
      error = "hostfile line " + std::to_string(lineno) + ": node " + n.name + " is listed twice";
      return false;
    }
    out.push_back(n);
  }
  if (out.empty()) {
    error = "hostfile lists no node";
    return false;
  }
  return true;
}

bool expand_nodelist(const std::string& list, std::vector<std::string>& out, std::string& error) {
  out.clear();
  std::size_t i = 0;
  while (i < list.size()) {
    std::string prefix;
    while (i < list.size() && list[i] != ',' && list[i] != '[') prefix += list[i++];
    if (i < list.size() && list[i] == '[') {
      const auto close = list.find(']', i);
      if (close == std::string::npos) {
        error = "node list \"" + list + "\": '[' without ']'";
        return false;
      }
      std::string suffix;
      std::size_t j = close + 1;
      while (j < list.size() && list[j] != ',') suffix += list[j++];
      std::istringstream ranges(list.substr(i + 1, close - i - 1));
      for (std::string r; std::getline(ranges, r, ',');) {
        const auto dash = r.find('-');
        const std::string lo = r.substr(0, dash), hi = dash == std::string::npos ? lo : r.substr(dash + 1);
        int a = 0, b = 0;
        if (!to_int(lo, a) || !to_int(hi, b) || b < a || b - a > 100000) {
          error = "node list \"" + list + "\": bad range \"" + r + "\"";
          return false;
        }
        for (int k = a; k <= b; ++k) {
          std::string num = std::to_string(k);
          while (num.size() < lo.size()) num = "0" + num;  // keep zero padding: node[01-03]
          out.push_back(prefix + num + suffix);
        }
      }
      i = j;
    } else if (!prefix.empty()) {
      out.push_back(prefix);
    }
    if (i < list.size() && list[i] == ',') ++i;
  }
  if (out.empty()) {
    error = "node list \"" + list + "\" names no node";
    return false;
  }
  return true;
}

}  // namespace ferry::supervisor
