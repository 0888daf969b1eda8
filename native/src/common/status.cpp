#include "status.hpp"

namespace {
thread_local std::string last_error;
}

namespace qs {
void set_last_error(const std::string& message) { last_error = message; }
void clear_last_error() { last_error.clear(); }
}  // namespace qs

extern "C" const char* qs_last_error(void) { return last_error.c_str(); }
extern "C" const char* qs_version(void) { return "0.1.0"; }
