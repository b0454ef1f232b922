# Sourced by the launch scripts: lets Open MPI run as root (CI runs as root)
# and oversubscribe the two cores of a small machine.
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
