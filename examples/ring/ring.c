/* ring: point-to-point messages kept in flight across ferry's safe points.
 *
 *   ring [-i ITERATIONS] [-w WORK] [-r REPORT_EVERY]
 *
 * Every iteration each rank sends three small messages (tags 1, 2, 3) to its right neighbour,
 * reaches the safe point with them still unreceived, and only then receives its left
 * neighbour's three, in another order and by three different paths (MPI_Recv by tag,
 * MPI_Probe + MPI_Recv of what the probe saw, MPI_Irecv + MPI_Wait). A checkpoint taken at the
 * safe point therefore has to capture messages in flight and deliver them, in MPI's order and
 * with their source, tag and count, to the restored process. Every receive is checked, and the
 * values received are folded into a chaotic recurrence, so a lost, duplicated, reordered or
 * altered message either aborts the run or changes the final checksum (printed in hex-float
 * form, to compare runs bit for bit).
 *
 * The protected state is the iteration counter and the state vector: nothing else survives a
 * restart, and nothing else is needed, since the sends of the current iteration are in flight.
 *
 * The sends are blocking MPI_Send on every rank before any receive: that relies on the
 * messages (4 doubles) being far below the eager limit, so each MPI_Send returns at once. */
#include <ferry/ferry.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  STATE = 16, /* doubles of state per rank */
  MSG = 4,    /* doubles per message: sender, iteration, tag, a value from the sender's state */
  MAX_MSG = 64 /* receive buffer of the probe path: larger counts are an error, not a crash */
};

typedef struct {
  int iterations, work, report_every;
} Options;

static int parse(int argc, char** argv, Options* o, int rank) {
  o->iterations = 200;
  o->work = 500000; /* passes of the recurrence over the state: about 3 ms per iteration */
  o->report_every = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (i + 1 < argc && (!strcmp(a, "-i") || !strcmp(a, "-w") || !strcmp(a, "-r"))) {
      char* end = NULL;
      long v = strtol(argv[++i], &end, 10);
      /* -w 0 is allowed: communication only. */
      const long min = !strcmp(a, "-w") ? 0 : 1;
      if (*end != '\0' || v < min || v > 1000000000L) {
        if (rank == 0)
          fprintf(stderr, "ring: %s needs a %s integer, got \"%s\"\n", a, min ? "positive" : "non-negative",
                  argv[i]);
        return 0;
      }
      if (!strcmp(a, "-i")) o->iterations = (int)v;
      else if (!strcmp(a, "-w")) o->work = (int)v;
      else o->report_every = (int)v;
    } else {
      if (rank == 0) fprintf(stderr, "usage: ring [-i ITERATIONS] [-w WORK] [-r REPORT_EVERY]\n");
      return 0;
    }
  }
  return 1;
}

/* The logistic map at r = 3.9: chaotic on (0, 1) and never leaves it (its maximum is 0.975), so
 * any difference in a single bit of the state grows until it shows in the checksum. Plain
 * multiplications and subtractions only: deterministic IEEE arithmetic, no libm. */
static double logistic(double x) { return 3.9 * x * (1.0 - x); }

/* The message a rank sends with `tag` at iteration `it`: who, when and which, so a receiver can
 * check it got the right one, and a value of the sender's state, so the ring couples the ranks. */
static void make_message(double* m, int rank, int it, int tag, const double* state) {
  m[0] = rank;
  m[1] = it;
  m[2] = tag;
  m[3] = logistic(state[(tag * 5 + it) % STATE]);
}

/* Checks a receive against what the left neighbour sent at this iteration; aborts otherwise. */
static void check(const char* path, const MPI_Status* st, const double* m, int rank, int it, int left,
                  int tag) {
  int count = -1;
  MPI_Get_count(st, MPI_DOUBLE, &count);
  if (st->MPI_SOURCE != left || st->MPI_TAG != tag || count != MSG) {
    fprintf(stderr,
            "ring: rank %d iteration %d: %s received source=%d tag=%d count=%d, expected source=%d "
            "tag=%d count=%d\n",
            rank, it, path, st->MPI_SOURCE, st->MPI_TAG, count, left, tag, MSG);
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
  if (m[0] != left || m[1] != it || m[2] != tag) {
    fprintf(stderr,
            "ring: rank %d iteration %d: %s received the message of rank %.0f iteration %.0f tag %.0f, "
            "expected rank %d iteration %d tag %d\n",
            rank, it, path, m[0], m[1], m[2], left, it, tag);
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
}

/* Folds a received value into the state: an average keeps every element in (0, 1), and the
 * value moves on along the state so each message reaches all of it. */
static void fold(double* state, double x) {
  for (int k = 0; k < STATE; ++k) {
    state[k] = 0.75 * state[k] + 0.25 * x;
    x = logistic(x);
  }
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Options o;
  if (!parse(argc, argv, &o, rank)) {
    MPI_Finalize();
    return 2;
  }
  const int right = (rank + 1) % size, left = (rank + size - 1) % size;

  /* Distinct starting points in (0, 1) on every rank. */
  double state[STATE];
  for (int k = 0; k < STATE; ++k) state[k] = (double)(rank * STATE + k + 1) / (double)(size * STATE + 1);

  /* `it` is the iteration under way. At the safe point its messages are sent and not yet
   * received, which is what a checkpoint records: a process restored there must not send them
   * again (they are delivered from the checkpoint) and goes straight on to the receives. */
  int it = 0;
  ferry_protect(0, &it, sizeof it);
  ferry_protect(1, state, sizeof state);
  int resumed = ferry_restarted();
  if (resumed && rank == 0) printf("ring: restarted at iteration %d\n", it);

  for (; it < o.iterations; ++it) {
    if (!resumed) {
      double out[3][MSG];
      for (int tag = 1; tag <= 3; ++tag) {
        make_message(out[tag - 1], rank, it, tag, state);
        MPI_Send(out[tag - 1], MSG, MPI_DOUBLE, right, tag, MPI_COMM_WORLD);
      }
      /* The three messages are in flight here, and no request is pending. An application that
       * does not link ferry (with libferry preloaded, or without ferry at all) would call
       * MPI_Pcontrol(FERRY_PCONTROL_SAFE_POINT) instead; this one links ferry. */
      ferry_safe_point();
    }
    resumed = 0;

    double m[MAX_MSG];
    MPI_Status st;
    /* 1. The last one sent, first, by its tag. */
    MPI_Recv(m, MSG, MPI_DOUBLE, left, 3, MPI_COMM_WORLD, &st);
    check("MPI_Recv(left, 3)", &st, m, rank, it, left, 3);
    fold(state, m[3]);

    /* 2. Whatever comes next from anyone, received exactly as the probe describes it. Only the
     * left neighbour sends to this rank, and MPI does not let a message overtake an earlier one
     * from the same sender that the probe would match too, so this must be tag 1 of this
     * iteration, even when the left neighbour has already sent the next iteration's messages. */
    MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    int count = -1;
    MPI_Get_count(&st, MPI_DOUBLE, &count);
    if (count < 0 || count > MAX_MSG) {
      fprintf(stderr, "ring: rank %d iteration %d: MPI_Probe saw a message of %d doubles from %d tag %d\n",
              rank, it, count, st.MPI_SOURCE, st.MPI_TAG);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
    const int probed_source = st.MPI_SOURCE, probed_tag = st.MPI_TAG;
    MPI_Recv(m, count, MPI_DOUBLE, probed_source, probed_tag, MPI_COMM_WORLD, &st);
    check("MPI_Probe(any, any) + MPI_Recv", &st, m, rank, it, left, 1);
    fold(state, m[3]);

    /* 3. The remaining one, nonblocking, by source only. */
    MPI_Request req;
    MPI_Irecv(m, MSG, MPI_DOUBLE, left, MPI_ANY_TAG, MPI_COMM_WORLD, &req);
    MPI_Wait(&req, &st);
    check("MPI_Irecv(left, any) + MPI_Wait", &st, m, rank, it, left, 2);
    fold(state, m[3]);

    /* The computation of the iteration; its length is set by -w. */
    for (int p = 0; p < o.work; ++p)
      for (int k = 0; k < STATE; ++k) state[k] = logistic(state[k]);

    if (o.report_every && (it + 1) % o.report_every == 0 && rank == 0) printf("ring: iteration %d\n", it + 1);
  }

  /* Checksum summed in rank order on rank 0, so it does not depend on a reduction's order. */
  double local = 0;
  for (int k = 0; k < STATE; ++k) local += state[k];
  double* all = rank == 0 ? malloc((size_t)size * sizeof *all) : NULL;
  if (rank == 0 && !all) {
    fprintf(stderr, "ring: rank 0: out of memory\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Gather(&local, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    double sum = 0;
    for (int r = 0; r < size; ++r) sum += all[r];
    printf("ring: ranks=%d iterations=%d checksum=%a\n", size, o.iterations, sum);
    free(all);
  }
  ferry_unprotect(0);
  ferry_unprotect(1);
  MPI_Finalize();
  return 0;
}
