// Summarises the prompt and output lengths of real requests to an LLM inference service
// (Azure LLM inference trace, code assistant, 2023-11-16; CC BY 4.0, Patel et al., ISCA 2024)
// with t-digests, and compares every reported quantile with the exact one.
//
//   summarize_tokens data/azure_llm_code/AzureLLMInferenceTrace_code.csv
#include <vigil/vigil.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Column {
  const char* name = "";
  vigil::TDigest<> digest{100};
  std::vector<double> values;  // kept only to check the digest against exact answers
};

// Fraction of the values strictly below and at most x.
std::pair<double, double> rank_of(const std::vector<double>& sorted, double x) {
  const auto n = static_cast<double>(sorted.size());
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), x) - sorted.begin();
  const auto hi = std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin();
  return {static_cast<double>(lo) / n, static_cast<double>(hi) / n};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s AzureLLMInferenceTrace_code.csv\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 2;
  }
  std::string line;
  std::getline(in, line);
  if (line.rfind("TIMESTAMP,ContextTokens,GeneratedTokens", 0) != 0) {
    std::fprintf(stderr, "%s: unexpected header '%s'\n", argv[1], line.c_str());
    return 2;
  }
  Column columns[2];
  columns[0].name = "ContextTokens";
  columns[1].name = "GeneratedTokens";
  std::size_t rows = 0;
  std::size_t bad = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string timestamp, context, generated;
    if (!std::getline(fields, timestamp, ',') || !std::getline(fields, context, ',') ||
        !std::getline(fields, generated, ',')) {
      ++bad;
      continue;
    }
    try {
      const double values[2] = {std::stod(context), std::stod(generated)};
      for (int c = 0; c < 2; ++c) {
        columns[c].digest.add(values[c]);
        columns[c].values.push_back(values[c]);
      }
      ++rows;
    } catch (const std::exception&) {
      ++bad;
    }
  }
  std::printf("%zu requests read, %zu malformed rows\n\n", rows, bad);

  double worst = 0;
  const double qs[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999};
  for (Column& column : columns) {
    std::sort(column.values.begin(), column.values.end());
    std::printf("%s: %zu values in %zu centroids, min %.0f, max %.0f, mean %.1f\n", column.name,
                column.values.size(), (column.digest.flush(), column.digest.centroids().size()),
                column.digest.min(), column.digest.max(), column.digest.mean());
    std::printf("  %-8s %12s %12s %12s\n", "q", "t-digest", "exact", "rank error");
    for (double q : qs) {
      const double estimate = column.digest.quantile(q);
      const auto rank = rank_of(column.values, estimate);
      const double error = q < rank.first ? rank.first - q : (q > rank.second ? q - rank.second : 0.0);
      const auto exact_index = static_cast<std::size_t>(q * static_cast<double>(column.values.size() - 1));
      std::printf("  %-8g %12.1f %12.1f %12.2e\n", q, estimate, column.values[exact_index], error);
      worst = std::max(worst, error);
    }
    std::printf("\n");
  }
  std::printf("largest rank error: %.2e (bound for this sketch size: 2e-3)\n", worst);
  return rows > 8000 && bad == 0 && worst <= 2e-3 ? 0 : 1;
}
