#include "common/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "common/status.hpp"

namespace qs {
namespace {

int default_threads() {
  if (const char* env = std::getenv("QUIPSHARP_NUM_THREADS")) {
    const int v = std::atoi(env);
    if (v > 0) return std::min(v, 256);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

std::atomic<int> requested_threads{0};  // 0: not set yet

// One parallel region: the chunks of one parallel_for call.
struct Region {
  const std::function<void(int64_t, int64_t)>* body = nullptr;
  int64_t end = 0;
  int64_t grain = 1;
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;

  void run_chunks() {
    for (;;) {
      const int64_t lo = next.fetch_add(grain);
      if (lo >= end) return;
      try {
        (*body)(lo, std::min(end, lo + grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(end);
        return;
      }
    }
  }
};

class Pool {
 public:
  static Pool& instance() {
    static Pool* pool = new Pool();  // never destroyed: workers may outlive static destructors
    return *pool;
  }

  // Runs the region on `helpers` workers plus the caller; false if the pool is busy.
  bool try_run(Region& region, int helpers) {
    std::unique_lock<std::mutex> busy(busy_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    ensure_workers(helpers);
    helpers = std::min<int>(helpers, static_cast<int>(workers_.size()));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      region_ = &region;
      wanted_ = helpers;
      active_ = helpers;
      ++generation_;
    }
    wake_.notify_all();
    region.run_chunks();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return active_ == 0; });
    region_ = nullptr;
    return true;
  }

 private:
  void ensure_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      try {
        workers_.emplace_back([this, id = static_cast<int>(workers_.size())] { work(id); });
        workers_.back().detach();
      } catch (const std::system_error&) {
        return;  // fewer workers than asked for: the caller takes the remaining chunks
      }
    }
  }

  void work(int id) {
    uint64_t seen = 0;
    for (;;) {
      Region* region = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (id >= wanted_) continue;  // not part of this region
        region = region_;
      }
      region->run_chunks();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--active_ == 0) done_.notify_all();
      }
    }
  }

  std::mutex busy_mutex_;  // held by the caller of the active region
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  Region* region_ = nullptr;
  uint64_t generation_ = 0;
  int wanted_ = 0;
  int active_ = 0;
};

thread_local bool inside_region = false;

}  // namespace

int num_threads() {
  int t = requested_threads.load(std::memory_order_relaxed);
  if (t == 0) {
    t = default_threads();
    int expected = 0;
    requested_threads.compare_exchange_strong(expected, t);
    t = requested_threads.load(std::memory_order_relaxed);
  }
  return t;
}

void set_num_threads(int threads) {
  requested_threads.store(std::max(1, std::min(threads, 256)), std::memory_order_relaxed);
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& body) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (end - begin + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), chunks));
  if (threads <= 1 || inside_region) {
    body(begin, end);
    return;
  }
  Region region;
  region.body = &body;
  region.end = end;
  region.grain = grain;
  region.next.store(begin);
  inside_region = true;
  struct Reset {
    ~Reset() { inside_region = false; }
  } reset;
  if (!Pool::instance().try_run(region, threads - 1)) {
    body(begin, end);  // another thread owns the pool: run here, single-threaded
    return;
  }
  if (region.error) std::rethrow_exception(region.error);
}

}  // namespace qs

extern "C" int32_t qs_set_num_threads(int32_t threads) {
  return qs::guard([&] {
    qs::require(threads >= 1 && threads <= 256, "threads = ", threads, " must be in 1..256");
    qs::set_num_threads(threads);
  });
}

extern "C" int32_t qs_get_num_threads(void) { return qs::num_threads(); }
