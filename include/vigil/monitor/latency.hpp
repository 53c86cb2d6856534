// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Latency analyses of the Monitor: the latencies of the latency window against a long
/// trailing background on log-scale buckets (a G-test on the bucket counts and the shift of
/// p99 and p99.9), and slow-request attribution — which tag values the requests above the
/// slow threshold come from, by a G-test on the slow/not-slow × value table and the lift
/// share-of-slow / share-of-all. Dunning & Friedman ("Practical Machine Learning: A New Look
/// at Anomaly Detection", O'Reilly 2014, ch. 9) monitor latency this way: compare the
/// recent histogram with the long-run one on log buckets rather than watch one percentile.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/features.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/stats/goodness_of_fit.hpp"

namespace vigil {
namespace detail {

/// Bucket counts of two latency histograms on common buckets: the histograms' buckets
/// coarsened to `scale` (4 buckets per doubling at scale 2, each ≈ 19 % wide), then adjacent
/// buckets pooled until the recent side expects at least 5 values in each, so that the G-test
/// has the χ² distribution it is judged by.
inline void pooled_latency_buckets(const LogHistogram& recent, const LogHistogram& background, int scale,
                                   std::vector<double>& recent_counts, std::vector<double>& background_counts) {
  std::map<std::int64_t, std::pair<double, double>> cells;
  const auto add = [&](const LogHistogram& h, bool is_recent) {
    const int shift = std::max(0, h.scale() - scale);
    if (h.zero_count() > 0) {
      auto& c = cells[std::numeric_limits<std::int64_t>::min()];
      (is_recent ? c.first : c.second) += static_cast<double>(h.zero_count());
    }
    for (const auto& b : h.buckets()) {
      // Floor division: negative indices (latencies below one second) round down too.
      const std::int64_t coarse = b.index >= 0 ? (b.index >> shift) : -((-b.index - 1) >> shift) - 1;
      auto& c = cells[coarse];
      (is_recent ? c.first : c.second) += static_cast<double>(b.count);
    }
  };
  add(recent, true);
  add(background, false);
  double recent_total = 0;
  double total = 0;
  for (const auto& [index, c] : cells) {
    recent_total += c.first;
    total += c.first + c.second;
  }
  recent_counts.clear();
  background_counts.clear();
  if (total <= 0) return;
  const double share = recent_total / total;
  double a = 0;
  double b = 0;
  for (const auto& [index, c] : cells) {
    a += c.first;
    b += c.second;
    if ((a + b) * share >= 5) {
      recent_counts.push_back(a);
      background_counts.push_back(b);
      a = b = 0;
    }
  }
  if (a + b > 0) {
    if (recent_counts.empty()) {
      recent_counts.push_back(a);
      background_counts.push_back(b);
    } else {
      recent_counts.back() += a;
      background_counts.back() += b;
    }
  }
}

/// Quantiles and the G-test of `recent` against `background` latencies.
inline void analyze_latency(const LogHistogram& recent, const LogHistogram& background, LatencyReport& r) {
  r.recent_count = recent.count();
  r.background_count = background.count();
  if (!recent.empty()) {
    r.recent_p50 = recent.quantile(0.5);
    r.recent_p99 = recent.quantile(0.99);
    r.recent_p999 = recent.quantile(0.999);
  }
  if (!background.empty()) {
    r.background_p50 = background.quantile(0.5);
    r.background_p99 = background.quantile(0.99);
    r.background_p999 = background.quantile(0.999);
  }
  if (recent.empty() || background.empty()) return;
  if (r.background_p99 > 0) r.p99_ratio = r.recent_p99 / r.background_p99;
  if (r.background_p999 > 0) r.p999_ratio = r.recent_p999 / r.background_p999;
  std::vector<double> a;
  std::vector<double> b;
  pooled_latency_buckets(recent, background, std::min({2, recent.scale(), background.scale()}), a, b);
  if (a.size() >= 2) {
    const auto g = stats::g_test_independence(a, b);
    r.statistic = g.statistic;
    r.p_value = g.p_value;
  } else {
    r.statistic = 0;
    r.p_value = 1;
  }
}

/// Which values of one tag the slow requests come from: per value its requests and slow
/// requests in the window (`requests[v]`, `slow[v]`, names in `values`), tested by a G-test
/// of value × slow/not-slow (each value against all the others). Appends the values with at
/// least one slow request, most over-represented first.
inline void attribute_slow(const std::string& tag, const std::vector<std::string>& values,
                           const std::vector<std::uint64_t>& requests, const std::vector<std::uint64_t>& slow,
                           std::vector<SlowAttribution>& out) {
  double all = 0;
  double all_slow = 0;
  for (std::size_t v = 0; v < values.size(); ++v) {
    all += static_cast<double>(requests[v]);
    all_slow += static_cast<double>(slow[v]);
  }
  if (all <= 0 || all_slow <= 0) return;
  for (std::size_t v = 0; v < values.size(); ++v) {
    if (slow[v] == 0 || values[v].empty()) continue;
    SlowAttribution a;
    a.tag = tag;
    a.value = values[v];
    a.requests = requests[v];
    a.slow = slow[v];
    a.share_of_slow = static_cast<double>(slow[v]) / all_slow;
    a.share_of_all = static_cast<double>(requests[v]) / all;
    a.lift = a.share_of_all > 0 ? a.share_of_slow / a.share_of_all : FeatureReport::nan();
    const double here_slow = static_cast<double>(slow[v]);
    const double here_fast = static_cast<double>(requests[v]) - here_slow;
    const double rest_slow = all_slow - here_slow;
    const double rest_fast = (all - all_slow) - here_fast;
    if (here_fast + rest_fast > 0 && here_slow + here_fast < all) {
      const auto g = stats::g_test_independence(std::vector<double>{here_slow, here_fast},
                                                std::vector<double>{rest_slow, rest_fast});
      a.p_value = g.p_value;
    }
    out.push_back(std::move(a));
  }
  std::stable_sort(out.begin(), out.end(), [](const SlowAttribution& x, const SlowAttribution& y) {
    return (std::isnan(x.lift) ? 0 : x.lift) > (std::isnan(y.lift) ? 0 : y.lift);
  });
}

/// Evidence from a latency report whose p-values were adjusted across the subjects judged in
/// the interval: a significant change of the bucket counts together with a p99 (or p99.9)
/// that moved by the policy's ratio; and, for every attributed tag value, significant over-
/// representation among the slow requests with the policy's lift. `adjusted_attribution`
/// holds the adjusted p-value per entry of r.attribution.
inline void latency_evidence(const LatencyReport& r, double adjusted_p, const std::vector<double>& adjusted_attribution,
                             const AlertPolicy& policy, const std::string& subject_prefix, std::vector<Evidence>& out) {
  const std::string worst =
      r.attribution.empty() ? std::string()
                            : " Slow requests come most from " + r.attribution.front().tag + "=" + r.attribution.front().value +
                                  " (" + percent(r.attribution.front().share_of_slow) + " of slow vs " +
                                  percent(r.attribution.front().share_of_all) + " of all requests).";
  if (r.recent_count >= policy.min_requests && adjusted_p < policy.p_value) {
    const int level = std::max(severity_of(r.p99_ratio, policy.latency_p99_warn, policy.latency_p99_alert),
                               severity_of(r.p999_ratio, policy.latency_p999_warn, policy.latency_p999_alert));
    if (level > 0)
      out.push_back(Evidence{AlertKind::latency, subject_prefix + "requests", level == 2 ? Severity::alert : Severity::warn, r.p99_ratio,
                             adjusted_p,
                             "Latency of " +
                                 (subject_prefix.empty() ? std::string("requests")
                                                         : "requests with " + subject_prefix.substr(0, subject_prefix.size() - 2)) +
                                 " rose: p99 " + fixed(1000 * r.recent_p99, 1) + " ms vs " +
                                 fixed(1000 * r.background_p99, 1) + " ms in the background (×" + fixed(r.p99_ratio) +
                                 "), p99.9 " + fixed(1000 * r.recent_p999, 1) + " ms vs " +
                                 fixed(1000 * r.background_p999, 1) + " ms." + worst});
  }
  for (std::size_t i = 0; i < r.attribution.size(); ++i) {
    const SlowAttribution& a = r.attribution[i];
    if (a.slow < policy.min_slow_requests || !(adjusted_attribution[i] < policy.p_value)) continue;
    // Over-represented now, and more than it was in the background: a host that is always
    // a little slower is its normal, not news.
    const double relative = a.background_lift > 0 ? a.lift / a.background_lift : a.lift;
    if (!(relative >= policy.slow_lift_warn)) continue;
    const int level = severity_of(a.lift, policy.slow_lift_warn, policy.slow_lift_alert);
    if (level == 0) continue;
    out.push_back(Evidence{AlertKind::latency, subject_prefix + a.tag + "=" + a.value, level == 2 ? Severity::alert : Severity::warn,
                           a.lift, adjusted_attribution[i],
                           a.tag + "=" + a.value + " carries " + percent(a.share_of_slow) + " of slow requests (above " +
                               fixed(1000 * r.slow_threshold, 1) + " ms) vs " + percent(a.share_of_all) +
                               " of all requests (lift " + fixed(a.lift) + ")."});
  }
}

}  // namespace detail
}  // namespace vigil
