// A minimal parallel-for over index ranges with std::thread. The thread count comes from
// QUIPSHARP_NUM_THREADS, else the hardware concurrency. (The persistent pool and the Java-side setting
// arrive with the fast CPU kernels; callers only depend on parallel_for's contract.)
#pragma once

#include <cstdint>
#include <exception>
#include <functional>

namespace qs {

int num_threads();

// Calls body(lo, hi) on disjoint ranges covering [begin, end), each at least `grain` long (except the
// last), on up to num_threads() threads. The first exception thrown by a body is rethrown here.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& body);

}  // namespace qs
