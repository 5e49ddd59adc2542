#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace delayq::cli {

// A plain-text table: columns padded to their widest cell, two spaces apart, the last
// column unpadded (so long payloads do not drag trailing blanks).
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  void Row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  void Print(std::ostream& out, bool header = true) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace delayq::cli
