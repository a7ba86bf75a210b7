// lumen colour conversion kernels: RGBA/BGRA (8 bit per channel) -> NV12 / P010 / YUV444 / I420.
//
// Compiled to PTX by scripts/gpu/build-ptx.py (NVRTC) and embedded in lumen-encode
// (encode/kernels/convert.ptx). The integer math here is mirrored exactly by the CPU reference in
// encode/src/gpu/colour.rs: coefficients are computed once on the host (16 fractional bits) and passed in,
// so GPU and CPU results are bit-identical.
//
// One thread converts one 2x2 block of source pixels. Source: a CUDA texture object over the mapped
// render target (CUarray, uchar4 texels, point sampling, unnormalised coordinates) or a pitched linear
// buffer. Destination: one pitched allocation; planes follow each other at `pitch * height` strides
// (NV12/P010: Y then interleaved UV at half height; YUV444: Y, U, V; I420: Y at `pitch`, then the U and V
// planes of ceil(height/2) rows each at `pitch / 2` -- the software encoder's input, copied to the host in
// one piece).

struct Coeffs {
    int y[3];     // R, G, B weights for Y, scaled by 2^16
    int u[3];     // ... for Cb
    int v[3];     // ... for Cr
    int y_bias;   // (y_offset << 16) + 2^15
    int c_bias;   // (c_offset << 16) + 2^15
    int c_bias4;  // (c_offset << 18) + 2^17 (chroma from the sum of four pixels)
    int max;      // (1 << depth) - 1
    int swap_rb;  // 1: source texels are BGRA
};

__device__ __forceinline__ int clampi(int v, int m) { return v < 0 ? 0 : (v > m ? m : v); }

__device__ __forceinline__ int3 load_tex(unsigned long long tex, int x, int y, int swap) {
    uchar4 p = tex2D<uchar4>(tex, (float)x + 0.5f, (float)y + 0.5f);
    return swap ? make_int3(p.z, p.y, p.x) : make_int3(p.x, p.y, p.z);
}

__device__ __forceinline__ int3 load_ptr(const unsigned char* src, unsigned src_pitch, int x, int y, int swap) {
    uchar4 p = *reinterpret_cast<const uchar4*>(src + (size_t)y * src_pitch + (size_t)x * 4);
    return swap ? make_int3(p.z, p.y, p.x) : make_int3(p.x, p.y, p.z);
}

__device__ __forceinline__ int luma(const Coeffs& c, int3 p) {
    return clampi((c.y[0] * p.x + c.y[1] * p.y + c.y[2] * p.z + c.y_bias) >> 16, c.max);
}

// Loads the 2x2 block at (x, y), clamping at the right and bottom edges (odd sizes).
#define LOAD_BLOCK(LOAD)                                                     \
    int x1 = min(x + 1, width - 1), y1 = min(y + 1, height - 1);            \
    int3 p00 = LOAD(x, y), p10 = LOAD(x1, y), p01 = LOAD(x, y1), p11 = LOAD(x1, y1);

template <int BYTES>
__device__ __forceinline__ void store(unsigned char* row, int x, int v, int shift) {
    if (BYTES == 1) row[x] = (unsigned char)v;
    else reinterpret_cast<unsigned short*>(row)[x] = (unsigned short)(v << shift);
}

// The four luma samples of a 2x2 block (8 bit), skipping those past an odd right/bottom edge.
__device__ __forceinline__ void write_420_luma(const Coeffs& c, int3 p00, int3 p10, int3 p01, int3 p11,
                                               unsigned char* dst, unsigned pitch, int x, int y, int width,
                                               int height) {
    unsigned char* r0 = dst + (size_t)y * pitch;
    r0[x] = (unsigned char)luma(c, p00);
    if (x + 1 < width) r0[x + 1] = (unsigned char)luma(c, p10);
    if (y + 1 < height) {
        unsigned char* r1 = r0 + pitch;
        r1[x] = (unsigned char)luma(c, p01);
        if (x + 1 < width) r1[x + 1] = (unsigned char)luma(c, p11);
    }
}

// 4:2:0 semi-planar (NV12 when BYTES == 1, P010 when BYTES == 2: 10 bits in the high bits).
template <int BYTES>
__device__ __forceinline__ void write_420(const Coeffs& c, int3 p00, int3 p10, int3 p01, int3 p11,
                                          unsigned char* dst, unsigned pitch, int x, int y, int width, int height) {
    const int shift = BYTES == 2 ? 6 : 0;
    unsigned char* r0 = dst + (size_t)y * pitch;
    store<BYTES>(r0, x, luma(c, p00), shift);
    if (x + 1 < width) store<BYTES>(r0, x + 1, luma(c, p10), shift);
    if (y + 1 < height) {
        unsigned char* r1 = r0 + pitch;
        store<BYTES>(r1, x, luma(c, p01), shift);
        if (x + 1 < width) store<BYTES>(r1, x + 1, luma(c, p11), shift);
    }
    int sr = p00.x + p10.x + p01.x + p11.x;
    int sg = p00.y + p10.y + p01.y + p11.y;
    int sb = p00.z + p10.z + p01.z + p11.z;
    int u = clampi((c.u[0] * sr + c.u[1] * sg + c.u[2] * sb + c.c_bias4) >> 18, c.max);
    int v = clampi((c.v[0] * sr + c.v[1] * sg + c.v[2] * sb + c.c_bias4) >> 18, c.max);
    unsigned char* uv = dst + (size_t)pitch * height + (size_t)(y / 2) * pitch;
    store<BYTES>(uv, x, u, shift);
    store<BYTES>(uv, x + 1, v, shift);
}

// 4:2:0 planar (I420): chroma planes at half the luma pitch, U then V.
__device__ __forceinline__ void write_i420(const Coeffs& c, int3 p00, int3 p10, int3 p01, int3 p11,
                                           unsigned char* dst, unsigned pitch, int x, int y, int width, int height) {
    write_420_luma(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
    int sr = p00.x + p10.x + p01.x + p11.x;
    int sg = p00.y + p10.y + p01.y + p11.y;
    int sb = p00.z + p10.z + p01.z + p11.z;
    unsigned cp = pitch / 2;
    size_t chroma_rows = (size_t)(height + 1) / 2;
    size_t off = (size_t)pitch * height + (size_t)(y / 2) * cp + (size_t)(x / 2);
    dst[off] = (unsigned char)clampi((c.u[0] * sr + c.u[1] * sg + c.u[2] * sb + c.c_bias4) >> 18, c.max);
    dst[off + cp * chroma_rows] =
        (unsigned char)clampi((c.v[0] * sr + c.v[1] * sg + c.v[2] * sb + c.c_bias4) >> 18, c.max);
}

__device__ __forceinline__ void write_444_px(const Coeffs& c, int3 p, unsigned char* dst, unsigned pitch,
                                             int x, int y, int height) {
    size_t plane = (size_t)pitch * height;
    size_t off = (size_t)y * pitch + x;
    dst[off] = (unsigned char)luma(c, p);
    dst[plane + off] = (unsigned char)clampi((c.u[0] * p.x + c.u[1] * p.y + c.u[2] * p.z + c.c_bias) >> 16, c.max);
    dst[2 * plane + off] = (unsigned char)clampi((c.v[0] * p.x + c.v[1] * p.y + c.v[2] * p.z + c.c_bias) >> 16, c.max);
}

__device__ __forceinline__ void write_444(const Coeffs& c, int3 p00, int3 p10, int3 p01, int3 p11,
                                          unsigned char* dst, unsigned pitch, int x, int y, int width, int height) {
    write_444_px(c, p00, dst, pitch, x, y, height);
    if (x + 1 < width) write_444_px(c, p10, dst, pitch, x + 1, y, height);
    if (y + 1 < height) {
        write_444_px(c, p01, dst, pitch, x, y + 1, height);
        if (x + 1 < width) write_444_px(c, p11, dst, pitch, x + 1, y + 1, height);
    }
}

#define BLOCK_INDEX                                                          \
    int x = 2 * (blockIdx.x * blockDim.x + threadIdx.x);                     \
    int y = 2 * (blockIdx.y * blockDim.y + threadIdx.y);                     \
    if (x >= width || y >= height) return;

#define TEX(X, Y) load_tex(src, X, Y, c.swap_rb)
#define PTR(X, Y) load_ptr(src, src_pitch, X, Y, c.swap_rb)

extern "C" __global__ void lumen_tex_to_nv12(unsigned long long src, unsigned char* dst, unsigned pitch,
                                             int width, int height, Coeffs c) {
    BLOCK_INDEX LOAD_BLOCK(TEX) write_420<1>(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
}
extern "C" __global__ void lumen_tex_to_p010(unsigned long long src, unsigned char* dst, unsigned pitch,
                                             int width, int height, Coeffs c) {
    BLOCK_INDEX LOAD_BLOCK(TEX) write_420<2>(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
}
extern "C" __global__ void lumen_tex_to_yuv444(unsigned long long src, unsigned char* dst, unsigned pitch,
                                               int width, int height, Coeffs c) {
    BLOCK_INDEX LOAD_BLOCK(TEX) write_444(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
}
extern "C" __global__ void lumen_ptr_to_nv12(const unsigned char* src, unsigned src_pitch, unsigned char* dst,
                                             unsigned pitch, int width, int height, Coeffs c) {
    BLOCK_INDEX LOAD_BLOCK(PTR) write_420<1>(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
}
extern "C" __global__ void lumen_ptr_to_p010(const unsigned char* src, unsigned src_pitch, unsigned char* dst,
                                             unsigned pitch, int width, int height, Coeffs c) {
    BLOCK_INDEX LOAD_BLOCK(PTR) write_420<2>(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
}
extern "C" __global__ void lumen_ptr_to_yuv444(const unsigned char* src, unsigned src_pitch, unsigned char* dst,
                                               unsigned pitch, int width, int height, Coeffs c) {
    BLOCK_INDEX LOAD_BLOCK(PTR) write_444(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
}
extern "C" __global__ void lumen_tex_to_i420(unsigned long long src, unsigned char* dst, unsigned pitch,
                                             int width, int height, Coeffs c) {
    BLOCK_INDEX LOAD_BLOCK(TEX) write_i420(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
}
extern "C" __global__ void lumen_ptr_to_i420(const unsigned char* src, unsigned src_pitch, unsigned char* dst,
                                             unsigned pitch, int width, int height, Coeffs c) {
    BLOCK_INDEX LOAD_BLOCK(PTR) write_i420(c, p00, p10, p01, p11, dst, pitch, x, y, width, height);
}
