// Compiled to assembly by prefetch_kept.cmake: the request path's prefetch of the label
// store's bucket must survive optimisation. A function whose only work is a prefetch can be
// taken as pure by GCC and its calls dropped, which no test of results would notice.
#include <vigil/monitor/detail/label_store.hpp>

#include <cstdint>

extern "C" void vigil_prefetch_probe(const vigil::detail::LabelStore& store, std::uint64_t key) { store.prefetch(key); }
