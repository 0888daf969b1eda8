// One process-wide pool of native worker threads used by every kernel.
//
// parallel_for hands out chunks of an index range to the pool's workers and the calling thread. Only
// one parallel region runs at a time: a call made while another region is active (from another Java
// thread, or nested inside a body) runs on its calling thread alone, so concurrent callers never
// oversubscribe the cores. The size comes from qs_set_num_threads, else QUIPSHARP_NUM_THREADS, else
// the hardware concurrency. Workers spin for a few hundred microseconds after a region before they
// sleep, so that back-to-back regions (one per layer in inference) do not pay a thread wake-up each.
#pragma once

#include <cstdint>
#include <functional>

#include "common/internal_api.hpp"

namespace qs {

QS_INTERNAL_API int num_threads();
// 1..256; takes effect for the next parallel region.
QS_INTERNAL_API void set_num_threads(int threads);

// Calls body(lo, hi) on disjoint ranges covering [begin, end), each `grain` long (the last may be
// shorter). The first exception thrown by a body is rethrown here after all chunks have stopped.
QS_INTERNAL_API void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& body);

}  // namespace qs
