#include "cli/table.h"

#include <algorithm>

namespace delayq::cli {

void Table::Print(std::ostream& out, bool header) const {
  std::vector<size_t> width(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], cells[i].size());
    }
  };
  if (header) measure(header_);
  for (const auto& row : rows_) measure(row);
  auto print = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      out << cells[i];
      if (i + 1 < cells.size()) out << std::string(width[i] - cells[i].size() + 2, ' ');
    }
    out << "\n";
  };
  if (header) print(header_);
  for (const auto& row : rows_) print(row);
}

}  // namespace delayq::cli
