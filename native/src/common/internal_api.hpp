// Internal C++ functions that libquipsharp exports besides the C boundary, for its companion
// libquipsharp_bench only (the benchmark drivers run on the engine's thread pool and report through
// its qs_last_error()). Not an API: JavaCPP never sees them, and they may change with the library.
#pragma once

#if defined(_WIN32)
#define QS_INTERNAL_API
#else
#define QS_INTERNAL_API __attribute__((visibility("default")))
#endif
