#include "common/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
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

// Workers that have just finished a region spin this long for the next one before they sleep on the
// condition variable: waking a sleeping thread costs tens of microseconds (more in a VM), as much as
// a whole 4096 x 4096 mat-vec, and inference calls one region after another.
constexpr auto kSpin = std::chrono::microseconds(300);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The chunks of one parallel_for call. The pool owns one Region and reuses it: a worker that wakes
// late sees a newer generation (or a closed region) and never touches a finished call's body.
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

  // Runs body on chunks of [begin, end) on up to `helpers` workers plus the caller; false if the
  // pool is busy (another thread's region).
  bool try_run(const std::function<void(int64_t, int64_t)>& body, int64_t begin, int64_t end,
               int64_t grain, int helpers, std::exception_ptr& error) {
    std::unique_lock<std::mutex> busy(busy_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    ensure_workers(helpers);
    helpers = std::min<int>(helpers, static_cast<int>(workers_.size()));
    Region& r = region_;
    r.body = &body;
    r.end = end;
    r.grain = grain;
    r.next.store(begin);
    r.error = nullptr;
    wanted_.store(helpers);
    open_.store(true);
    {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the sleepers' predicate check
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    r.run_chunks();
    // Every chunk is claimed: close the region, then wait for the workers that joined it.
    open_.store(false);
    for (int spins = 0; active_.load() != 0; ++spins) {
      if (spins < 4096) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
    error = r.error;
    r.body = nullptr;
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

  // Waits for a generation other than `seen`: spins for kSpin, then sleeps.
  uint64_t await_generation(uint64_t seen) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int spins = 0;; ++spins) {
      const uint64_t g = generation_.load();
      if (g != seen) return g;
      cpu_relax();
      if ((spins & 255) == 255 && std::chrono::steady_clock::now() > until) break;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return generation_.load() != seen; });
    return generation_.load();
  }

  void work(int id) {
    uint64_t seen = 0;
    for (;;) {
      seen = await_generation(seen);
      if (id >= wanted_.load()) continue;  // not part of this region
      // Join, then check that the region is still the one seen and still open (all sequentially
      // consistent: the caller either counts this worker in active_ or this worker sees it closed).
      active_.fetch_add(1);
      if (generation_.load() == seen && open_.load()) region_.run_chunks();
      active_.fetch_sub(1);
    }
  }

  std::mutex busy_mutex_;  // held by the caller of the active region
  std::mutex mutex_;       // sleeping workers
  std::condition_variable wake_;
  std::vector<std::thread> workers_;
  Region region_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> wanted_{0};
  std::atomic<int> active_{0};
  std::atomic<bool> open_{false};
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
  inside_region = true;
  struct Reset {
    ~Reset() { inside_region = false; }
  } reset;
  std::exception_ptr error;
  if (!Pool::instance().try_run(body, begin, end, grain, threads - 1, error)) {
    body(begin, end);  // another thread owns the pool: run here, single-threaded
    return;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace qs

extern "C" int32_t qs_set_num_threads(int32_t threads) {
  return qs::guard([&] {
    qs::require(threads >= 1 && threads <= 256, "threads = ", threads, " must be in 1..256");
    qs::set_num_threads(threads);
  });
}

extern "C" int32_t qs_get_num_threads(void) { return qs::num_threads(); }
