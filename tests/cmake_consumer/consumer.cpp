// A program that uses vigil the way a server would, built by the consumer projects.
#include <vigil/vigil.hpp>

#include <cmath>
#include <cstdio>

int main() {
  vigil::TDigest<> digest;
  for (int i = 1; i <= 1000; ++i) digest.add(i);
  const double median = digest.quantile(0.5);
  std::printf("median of 1..1000: %g\n", median);
  return std::fabs(median - 500.5) < 5 ? 0 : 1;
}
