#include "common/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace qs {

int num_threads() {
  static const int count = [] {
    if (const char* env = std::getenv("QUIPSHARP_NUM_THREADS")) {
      const int v = std::atoi(env);
      if (v > 0) return std::min(v, 256);
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
  }();
  return count;
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& body) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (end - begin + grain - 1) / grain;
  const int workers = static_cast<int>(std::min<int64_t>(num_threads(), chunks));
  if (workers <= 1) {
    body(begin, end);
    return;
  }
  // Dynamic schedule: each worker takes the next chunk of `grain` indices, so uneven chunks
  // (triangular loops) balance themselves.
  std::atomic<int64_t> next{begin};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&]() {
    for (;;) {
      const int64_t lo = next.fetch_add(grain);
      if (lo >= end) return;
      try {
        body(lo, std::min(end, lo + grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(end);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  for (int w = 1; w < workers; ++w) {
    try {
      threads.emplace_back(run);
    } catch (const std::system_error&) {
      break;  // fewer threads than asked for: the others (and this one) take the remaining chunks
    }
  }
  run();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace qs
