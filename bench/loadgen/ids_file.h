#pragma once

// The ids of added callback tasks, one per line: written by the adding scenarios, read back by
// callback-log, which checks a receiver's log against them.

#include <cstdint>
#include <string>
#include <vector>

namespace loadgen {

// Writes the ids of the adds that succeeded (0 marks a failed one) to `path` when given;
// returns how many there are.
uint64_t WriteAddedIds(const std::string& path, const std::vector<uint64_t>& ids);

std::vector<uint64_t> ReadIds(const std::string& path);

}  // namespace loadgen
