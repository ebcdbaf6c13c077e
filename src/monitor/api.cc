// The public C API of include/ferry/ferry.h.
#include "ferry/ferry.h"

#include "monitor/wrap.h"

extern "C" {

int ferry_enabled(void) { return ferry::monitor::detail::g_active ? 1 : 0; }

const char* ferry_version(void) { return FERRY_VERSION_STRING; }

}  // extern "C"
