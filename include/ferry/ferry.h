/* ferry — public C API. Usable from C and C++; every function is safe to call whether or not
 * ferry is enabled (FERRY_ENABLE=1) and never throws.
 *
 * Monitoring needs none of this. Migration and checkpoint/restart need the application to say
 * what its state is and where it may be taken:
 *
 *   ferry_protect(0, &iteration, sizeof iteration);
 *   ferry_protect(1, grid, grid_bytes);
 *   if (ferry_restarted()) { ... the protected regions hold the checkpointed state ... }
 *   for (; iteration < n; ++iteration) { step(); ferry_safe_point(); }
 *
 * Without ferry enabled, ferry_protect only records the region, ferry_restarted() is 0 and
 * ferry_safe_point() returns at once: the application runs unchanged. */
#ifndef FERRY_FERRY_H
#define FERRY_FERRY_H

#include <stddef.h>

#define FERRY_VERSION_MAJOR 0
#define FERRY_VERSION_MINOR 2
#define FERRY_VERSION_PATCH 0

/** MPI_Pcontrol(FERRY_PCONTROL_SAFE_POINT) is ferry_safe_point() for applications that do not
 *  link ferry (with libferry preloaded); with ferry absent MPI_Pcontrol does nothing. */
#define FERRY_PCONTROL_SAFE_POINT 0x4645

/** What ferry_safe_point() did. */
#define FERRY_CONTINUED 0          /**< nothing was pending */
#define FERRY_CHECKPOINTED 1       /**< a checkpoint was taken and the job goes on here */
#define FERRY_CHECKPOINT_FAILED -1 /**< a checkpoint was attempted and refused or failed (logged);
                                        the previous one stands and the job goes on */

#ifdef __cplusplus
extern "C" {
#endif

/** Nonzero when ferry is measuring this process (FERRY_ENABLE=1 and MPI_Init has run). */
int ferry_enabled(void);

/** ferry's version, "major.minor.patch". */
const char* ferry_version(void);

/** Registers `bytes` bytes at `ptr` as region `id` (>= 0) of this rank's state. Calling it again
 *  with the same id moves the region (a swapped buffer). After a restart the region is filled
 *  from the checkpoint here, at once; a size that differs from the checkpoint's ends the job with
 *  an error naming the region. Returns 0, or -1 for a negative id or a null pointer. */
int ferry_protect(int id, void* ptr, size_t bytes);

/** Forgets region `id`. Returns 0, or -1 when no such region was protected. */
int ferry_unprotect(int id);

/** Nonzero in a process restored from a checkpoint (after a migration or `ferry restart`). */
int ferry_restarted(void);

/** Collective over MPI_COMM_WORLD: call it from every rank once per iteration, with no
 *  nonblocking request pending. A checkpoint requested by the supervisor is taken here, by all
 *  ranks at the same iteration. When the checkpoint is part of a migration the process leaves
 *  the job here (it does not return) and the job goes on from this point elsewhere.
 *  Returns FERRY_CONTINUED, FERRY_CHECKPOINTED or FERRY_CHECKPOINT_FAILED. */
int ferry_safe_point(void);

/** Called on the rank's thread: `ferry_on_checkpoint`'s just before its state is captured;
 *  `ferry_on_restore`'s once in a restored process, by the first ferry_restarted() call (the
 *  regions protected until then are filled). One of each; NULL clears. */
typedef void (*ferry_callback)(void* arg);
int ferry_on_checkpoint(ferry_callback fn, void* arg);
int ferry_on_restore(ferry_callback fn, void* arg);

#ifdef __cplusplus
}
#endif

#endif /* FERRY_FERRY_H */
