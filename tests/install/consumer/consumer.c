/* Uses the installed ferry the way an application would. */
#include <ferry/ferry.h>
#include <mpi.h>
#include <stdio.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  printf("ferry %s enabled=%d\n", ferry_version(), ferry_enabled());
  MPI_Finalize();
  return 0;
}
