/* ferry — public C API. Usable from C and C++; every function is safe to call whether or not
 * ferry is enabled (FERRY_ENABLE=1) and never throws. */
#ifndef FERRY_FERRY_H
#define FERRY_FERRY_H

#define FERRY_VERSION_MAJOR 0
#define FERRY_VERSION_MINOR 1
#define FERRY_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/** Nonzero when ferry is measuring this process (FERRY_ENABLE=1 and MPI_Init has run). */
int ferry_enabled(void);

/** ferry's version, "major.minor.patch". */
const char* ferry_version(void);

#ifdef __cplusplus
}
#endif

#endif /* FERRY_FERRY_H */
