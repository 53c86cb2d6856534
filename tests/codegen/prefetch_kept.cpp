// Compiled to assembly by prefetch_kept.cmake: the prefetch of the label store's buckets, by
// which an index batch overlaps its memory accesses, must survive optimisation. A function
// whose only work is a prefetch can be taken as pure by GCC and its calls dropped, which no
// test of results would notice.
#include <vigil/monitor/detail/label_store.hpp>

#include <cstdint>

extern "C" void vigil_prefetch_probe(vigil::detail::LabelStore& store, std::uint64_t key, double time) {
  vigil::detail::PendingRequest request;
  request.time = time;
  store.insert(key, request, nullptr);
}
