// Error reporting across the C boundary: internal code throws qs::Error; every exported function runs
// its body through qs::guard, which turns any exception into a status code and a thread-local message.
#pragma once

#include <cstdint>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/internal_api.hpp"
#include "quipsharp/quipsharp.h"

namespace qs {

class Error : public std::runtime_error {
 public:
  Error(int32_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int32_t code() const { return code_; }

 private:
  int32_t code_;
};

QS_INTERNAL_API void set_last_error(const std::string& message);
QS_INTERNAL_API void clear_last_error();

// Builds a message from streamable parts: fail(QS_ERR_INVALID_ARGUMENT, "n = ", n, " is not ...").
template <typename... Parts>
[[noreturn]] void fail(int32_t code, Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  throw Error(code, os.str());
}

template <typename... Parts>
void require(bool condition, Parts&&... parts) {
  if (!condition) fail(QS_ERR_INVALID_ARGUMENT, std::forward<Parts>(parts)...);
}

template <typename T>
void require_not_null(const T* p, const char* name) {
  if (p == nullptr) fail(QS_ERR_INVALID_ARGUMENT, name, " must not be null");
}

// An element count: non-negative and small enough that count * 64 bytes cannot overflow.
inline void require_count(int64_t count, const char* name) {
  require(count >= 0, name, " = ", count, " must be >= 0");
  require(count <= INT64_MAX / 64, name, " = ", count, " is too large");
}

// A buffer may be null only when it holds nothing.
template <typename T>
void require_buffer(const T* p, int64_t count, const char* name) {
  if (count > 0) require_not_null(p, name);
}

// Throws QS_ERR_NON_FINITE naming the array and the first bad index.
template <typename T>
void require_finite(const T* p, int64_t count, const char* name) {
  for (int64_t i = 0; i < count; ++i) {
    const double v = static_cast<double>(p[i]);
    if (!(v - v == 0.0)) fail(QS_ERR_NON_FINITE, name, "[", i, "] = ", v, " is not finite");
  }
}

// Rethrows the failure of a call to another exported function (its status and message).
inline void check(int32_t status) {
  if (status != QS_OK) fail(status, qs_last_error());
}

template <typename F>
int32_t guard(F&& body) {
  try {
    body();
    clear_last_error();
    return QS_OK;
  } catch (const Error& e) {
    set_last_error(e.what());
    return e.code();
  } catch (const std::bad_alloc&) {
    set_last_error("out of native memory");
    return QS_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_last_error(std::string("internal error: ") + e.what());
    return QS_ERR_INTERNAL;
  } catch (...) {
    set_last_error("internal error: unknown exception");
    return QS_ERR_INTERNAL;
  }
}

}  // namespace qs
