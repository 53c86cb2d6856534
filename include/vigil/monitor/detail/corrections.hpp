// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "vigil/monitor/subject.hpp"
#include "vigil/stats/multiple_testing.hpp"

namespace vigil {
namespace detail {

/// The p-values of one evaluation, in groups corrected together by Benjamini-Hochberg: a
/// group is one kind of test of one family (say, the features' short-term test) over every
/// subject and cohort judged in the evaluation. Families add their p-values after analysis
/// and read the adjusted ones back, by ticket, when they weigh their evidence.
class Corrections {
 public:
  /// Which group a p-value belongs to: its family and the family's own number for the test.
  struct Group {
    Family family;
    std::uint8_t test;
    friend bool operator<(const Group& a, const Group& b) {
      return std::make_pair(a.family, a.test) < std::make_pair(b.family, b.test);
    }
  };
  /// Where an added p-value is found after adjust().
  struct Ticket {
    Group group;
    std::size_t index;
  };

  /// Adds a p-value (NaN: not tested, and never significant).
  Ticket add(Group group, double p) {
    std::vector<double>& values = groups_[group].raw;
    values.push_back(p);
    return Ticket{group, values.size() - 1};
  }
  /// Adjusts every group; call once, after the last add().
  void adjust() {
    for (auto& [group, g] : groups_) g.adjusted = adjust_finite(g.raw);
  }
  /// The adjusted p-value of a ticket: NaN for a NaN p-value.
  double adjusted(const Ticket& t) const { return groups_.at(t.group).adjusted.at(t.index); }

  /// Benjamini-Hochberg over the finite p-values of `p`; NaN entries stay NaN.
  static std::vector<double> adjust_finite(const std::vector<double>& p) {
    std::vector<double> finite;
    for (double v : p)
      if (!std::isnan(v)) finite.push_back(v);
    std::vector<double> out(p.size(), std::numeric_limits<double>::quiet_NaN());
    if (finite.empty()) return out;
    const std::vector<double> adjusted = stats::benjamini_hochberg(finite);
    std::size_t j = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (!std::isnan(p[i])) out[i] = adjusted[j++];
    return out;
  }

 private:
  struct Values {
    std::vector<double> raw;
    std::vector<double> adjusted;
  };
  std::map<Group, Values> groups_;
};

}  // namespace detail
}  // namespace vigil
