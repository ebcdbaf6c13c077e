/* heat2d: 2-D Jacobi iteration for the heat equation on an N x N grid, block-decomposed over a
 * 2-D Cartesian grid of ranks, with a halo exchange (Isend/Irecv/Waitall) every iteration.
 *
 *   heat2d [-n N] [-i ITERATIONS] [-r REPORT_EVERY]
 *
 * Prints the grid checksum in hex-float form so runs can be compared bit for bit.
 *
 * It follows ferry's application contract (include/ferry/ferry.h) so it can be migrated: the
 * iteration counter and both grids are protected regions, and every iteration ends at a safe
 * point. Without ferry enabled those calls do nothing and the results are the same bit for bit.
 * After a restore it goes on from the checkpointed iteration; the time it reports is then that
 * of this process's part of the run only. */
#include <ferry/ferry.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int n, iterations, report_every;
} Options;

static int parse(int argc, char** argv, Options* o, int rank) {
  o->n = 512;
  o->iterations = 200;
  o->report_every = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (i + 1 < argc && (!strcmp(a, "-n") || !strcmp(a, "-i") || !strcmp(a, "-r"))) {
      char* end = NULL;
      long v = strtol(argv[++i], &end, 10);
      if (*end != '\0' || v <= 0 || v > 1000000000L) {
        if (rank == 0) fprintf(stderr, "heat2d: %s needs a positive integer, got \"%s\"\n", a, argv[i]);
        return 0;
      }
      if (!strcmp(a, "-n")) o->n = (int)v;
      else if (!strcmp(a, "-i")) o->iterations = (int)v;
      else o->report_every = (int)v;
    } else {
      if (rank == 0) fprintf(stderr, "usage: heat2d [-n N] [-i ITERATIONS] [-r REPORT_EVERY]\n");
      return 0;
    }
  }
  return 1;
}

/* Rows/columns [lo, hi) of block `coord` when `n` cells are split into `parts`. */
static void split(int n, int parts, int coord, int* lo, int* hi) {
  *lo = (int)((long)n * coord / parts);
  *hi = (int)((long)n * (coord + 1) / parts);
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

  int dims[2] = {0, 0}, periods[2] = {0, 0}, coords[2];
  MPI_Dims_create(size, 2, dims);
  MPI_Comm cart;
  MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart);
  MPI_Cart_coords(cart, rank, 2, coords);
  int up, down, left, right;
  MPI_Cart_shift(cart, 0, 1, &up, &down);
  MPI_Cart_shift(cart, 1, 1, &left, &right);

  int r0, r1, c0, c1;
  split(o.n, dims[0], coords[0], &r0, &r1);
  split(o.n, dims[1], coords[1], &c0, &c1);
  const int rows = r1 - r0, cols = c1 - c0, w = cols + 2;
  const size_t grid_bytes = (size_t)(rows + 2) * (size_t)w * sizeof(double);
  /* The two grids stay where they are: iteration `it` reads g[it % 2] and writes g[(it + 1) % 2],
   * so the parity of a restored iteration counter alone says which grid holds the current state
   * (swapping pointers would be state that is not in any protected region). */
  double* g[2];
  g[0] = calloc((size_t)(rows + 2) * (size_t)w, sizeof(double));
  g[1] = calloc((size_t)(rows + 2) * (size_t)w, sizeof(double));
  double* sendl = malloc((size_t)rows * sizeof *sendl);
  double* sendr = malloc((size_t)rows * sizeof *sendr);
  double* recvl = malloc((size_t)rows * sizeof *recvl);
  double* recvr = malloc((size_t)rows * sizeof *recvr);
  if (!g[0] || !g[1] || !sendl || !sendr || !recvl || !recvr) {
    fprintf(stderr, "heat2d: rank %d: out of memory\n", rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  /* Fixed boundary: the top edge of the global grid is hot. */
  if (r0 == 0)
    for (int j = 0; j < w; ++j) g[0][j] = g[1][j] = 100.0;

  /* The rank's whole state: the number of iterations done and both grids (ghost cells included,
   * so the fixed boundary rows come back too). After a restart ferry_protect fills each region
   * from the checkpoint, overwriting the initial values just set. */
  int it = 0;
  ferry_protect(0, &it, sizeof it);
  ferry_protect(1, g[0], grid_bytes);
  ferry_protect(2, g[1], grid_bytes);
  if (ferry_restarted() && rank == 0) printf("heat2d: restarted at iteration %d\n", it);

  const double t0 = MPI_Wtime();
  while (it < o.iterations) {
    double* u = g[it % 2];
    double* v = g[(it + 1) % 2];
    MPI_Request req[8];
    int nreq = 0;
    MPI_Irecv(&u[0 * w + 1], cols, MPI_DOUBLE, up, 0, cart, &req[nreq++]);
    MPI_Irecv(&u[(rows + 1) * w + 1], cols, MPI_DOUBLE, down, 1, cart, &req[nreq++]);
    MPI_Irecv(recvl, rows, MPI_DOUBLE, left, 2, cart, &req[nreq++]);
    MPI_Irecv(recvr, rows, MPI_DOUBLE, right, 3, cart, &req[nreq++]);
    for (int i = 0; i < rows; ++i) {
      sendl[i] = u[(i + 1) * w + 1];
      sendr[i] = u[(i + 1) * w + cols];
    }
    MPI_Isend(&u[1 * w + 1], cols, MPI_DOUBLE, up, 1, cart, &req[nreq++]);
    MPI_Isend(&u[rows * w + 1], cols, MPI_DOUBLE, down, 0, cart, &req[nreq++]);
    MPI_Isend(sendl, rows, MPI_DOUBLE, left, 3, cart, &req[nreq++]);
    MPI_Isend(sendr, rows, MPI_DOUBLE, right, 2, cart, &req[nreq++]);
    MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
    if (left != MPI_PROC_NULL)
      for (int i = 0; i < rows; ++i) u[(i + 1) * w] = recvl[i];
    if (right != MPI_PROC_NULL)
      for (int i = 0; i < rows; ++i) u[(i + 1) * w + cols + 1] = recvr[i];

    for (int i = 1; i <= rows; ++i) {
      const int gi = r0 + i - 1;
      for (int j = 1; j <= cols; ++j) {
        const int gj = c0 + j - 1;
        if (gi == 0 || gi == o.n - 1 || gj == 0 || gj == o.n - 1) {
          v[i * w + j] = (gi == 0) ? 100.0 : 0.0;
        } else {
          v[i * w + j] = 0.25 * (u[(i - 1) * w + j] + u[(i + 1) * w + j] + u[i * w + j - 1] + u[i * w + j + 1]);
        }
      }
    }
    /* Count the iteration before the safe point: a checkpoint taken there must say it is done,
     * or a restored process would compute it a second time. Reported before the safe point too,
     * so a restored process does not print it again. */
    ++it;
    if (o.report_every && it % o.report_every == 0 && rank == 0) printf("heat2d: iteration %d\n", it);
    /* No request is pending here (Waitall above), as the safe point requires. */
    ferry_safe_point();
  }
  const double elapsed = MPI_Wtime() - t0;

  /* Checksum summed in rank order on rank 0, so it does not depend on a reduction's order. */
  const double* u = g[it % 2];
  double local = 0;
  for (int i = 1; i <= rows; ++i)
    for (int j = 1; j <= cols; ++j) local += u[i * w + j];
  double* all = rank == 0 ? malloc((size_t)size * sizeof *all) : NULL;
  MPI_Gather(&local, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double tmax = 0;
  MPI_Reduce(&elapsed, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    double sum = 0;
    for (int r = 0; r < size; ++r) sum += all[r];
    printf("heat2d: n=%d iterations=%d ranks=%d checksum=%a (%.12g)\n", o.n, o.iterations, size, sum, sum);
    printf("heat2d: time %.3f s\n", tmax);
    free(all);
  }
  /* Unprotect before freeing, so ferry keeps no pointer to freed memory. */
  ferry_unprotect(0);
  ferry_unprotect(1);
  ferry_unprotect(2);
  free(g[0]);
  free(g[1]);
  free(sendl);
  free(sendr);
  free(recvl);
  free(recvr);
  MPI_Comm_free(&cart);
  MPI_Finalize();
  return 0;
}
