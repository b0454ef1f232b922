// GoogleTest entry shared by every suite. MPI suites initialise MPI through
// their own fixtures (dist::make_world), so this stays MPI-free.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
