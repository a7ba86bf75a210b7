//! The NVIDIA zero-copy path (CUDA import, colour conversion kernels, NVENC).
