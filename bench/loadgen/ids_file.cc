#include "ids_file.h"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "json_scan.h"

namespace loadgen {

uint64_t WriteAddedIds(const std::string& path, const std::vector<uint64_t>& ids) {
  if (!path.empty()) {
    std::ofstream out(path);
    for (uint64_t id : ids) {
      if (id != 0) out << id << '\n';
    }
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  return static_cast<uint64_t>(
      std::count_if(ids.begin(), ids.end(), [](uint64_t id) { return id != 0; }));
}

std::vector<uint64_t> ReadIds(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<uint64_t> ids;
  std::string line;
  while (std::getline(in, line)) {
    if (auto id = ParsePositiveDecimal(line)) ids.push_back(*id);
  }
  return ids;
}

}  // namespace loadgen
