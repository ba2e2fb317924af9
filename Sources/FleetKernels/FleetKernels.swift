// FleetKernels: crop, resize, colour conversion and normalization kernels. Standard library only.
