// Attention with grouped-query heads, an arbitrary [B,T,S] mask (or causal with
// the keys' last T aligned to the queries) and keys/values that may start with a
// memory prefix (S >= T). Tiled, FlashAttention-2 style: the forward keeps a
// running max and sum per query row (online softmax) and stores only out and
// lse; the backward recomputes the probabilities from lse.
//
// Shapes: q, out, dout, dq [B,T,H,Dh]; k, v, dk, dv [B,S,Hkv,Dh]; mask [B,T,S] u8;
// lse [B,H,T] f32. Head h reads kv-head h / (H/Hkv).
//
// Reference (one row: batch b, head h, query t; g = h / (H/Hkv); "visible" is
// mask[b,t,j] != 0, or j <= t + S - T when there is no mask):
//   s_j   = scale * q[b,t,h,:] . k[b,j,g,:]                    for visible j
//   lse   = log sum_j exp(s_j)             (-inf when no j is visible)
//   P_j   = exp(s_j - lse)                                     (0 for hidden j)
//   out   = sum_j P_j v[b,j,g,:]                               (0 when no j is visible)
//   D     = dout[b,t,h,:] . out[b,t,h,:]
//   dP_j  = dout[b,t,h,:] . v[b,j,g,:]
//   dS_j  = P_j (dP_j - D)
//   dq[b,t,h,:] += scale * sum_j dS_j k[b,j,g,:]
//   dk[b,j,g,:] += scale * dS_j q[b,t,h,:]     (summed over t and the heads of g)
//   dv[b,j,g,:] += P_j dout[b,t,h,:]           (likewise)
//
// Skipping: the gist and CCM masks are block-structured (a segment sees its own
// tokens and a few compressed ones), so most [query tile x key tile] blocks of
// the mask are entirely hidden. A pre-pass classifies every tile as hidden,
// partial or visible; hidden tiles are skipped (no loads, no math), visible ones
// skip the per-element mask test. Without a mask the classes follow from the
// tile's corners, and the loops stop at the causal diagonal.
//
// The math is plain fp32 FMA on CUDA cores (bf16 is converted on load): the
// simplest kernel that is clearly right for every size (T, S, Dh not multiples
// of the tiles; Dh up to 128), which is what the CPU comparison tests need. A
// tensor-core (mma/wgmma) version is the next step for speed; this one stays as
// its reference.
#include "core/cuda/common.cuh"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

// 256 threads as a 16 x 16 grid (tx = tid % 16, ty = tid / 16). A thread owns
// rows ty, ty+16, ... and columns tx, tx+16, ... of every tile product, so the 16
// threads sharing a row sit in one half-warp (row reductions are 4 shuffles)
// and the 16 rows a warp reads from a [rows][LD] tile fall in 16 banks.
constexpr int kThreads = 256;
constexpr int kGrid = 16;
// Forward tiles: 64 queries per block (each K/V tile loaded serves 64 rows),
// 32 keys per step (keeps shared memory at ~75 KB for Dh = 128, two blocks/SM).
constexpr int kFwdRows = 64;
constexpr int kFwdKeys = 32;
// Backward: a block owns 32 keys (their dk/dv stay in registers) and walks the
// queries 32 at a time; 4 values per thread per score tile.
constexpr int kBwdRows = 32;
constexpr int kBwdKeys = 32;

enum TileClass : uint8_t { kHidden = 0, kPartial = 1, kVisible = 2 };

struct Dims {
  int B, T, S, H, Hkv, Dh, group;
};

// cls[(b * nqt + qt) * nkt + kt] for tiles of `rows` queries x `cols` keys,
// looking only at elements inside [T,S]. One block per tile.
__global__ void tile_class_kernel(uint8_t* cls, const uint8_t* mask, int T, int S, int rows,
                                  int cols) {
  const int kt = blockIdx.x, qt = blockIdx.y, b = blockIdx.z;
  int any = 0, all = 1;
  for (int e = threadIdx.x; e < rows * cols; e += blockDim.x) {
    const int q = qt * rows + e / cols, k = kt * cols + e % cols;
    if (q < T && k < S) {
      const int m = mask[(int64_t{b} * T + q) * S + k] != 0;
      any |= m;
      all &= m;
    }
  }
  any = __syncthreads_or(any);
  all = __syncthreads_and(all);
  if (threadIdx.x == 0)
    cls[(int64_t{b} * gridDim.y + qt) * gridDim.x + kt] = !any  ? kHidden
                                                          : all ? kVisible
                                                                : kPartial;
}

// Causal (query q sees key k iff k <= q + shift) class of queries [q0,q1) x keys [k0,k1).
__device__ inline int causal_class(int q0, int q1, int k0, int k1, int shift) {
  if (k0 > q1 - 1 + shift) return kHidden;    // the last query sees none of the keys
  if (k1 - 1 <= q0 + shift) return kVisible;  // the first query sees all of them
  return kPartial;
}

// dst[r][c] (row stride ld) = src[b, row0 + r, head, c] as float, for r < nrows
// and c < DH; zero past the sequence (len) or the head dim (Dh), so products
// over the padding add nothing and out-of-range rows never read memory.
template <typename T, int DH>
__device__ inline void load_tile(float* dst, int ld, const T* src, int b, int row0, int nrows,
                                 int len, int heads, int head, int Dh) {
  for (int e = threadIdx.x; e < nrows * DH; e += blockDim.x) {
    const int r = e / DH, c = e % DH, row = row0 + r;
    float v = 0;
    if (row < len && c < Dh) v = to_float(src[((int64_t{b} * len + row) * heads + head) * Dh + c]);
    dst[r * ld + c] = v;
  }
}

// Ms[r][c] = mask[b, q0 + r, k0 + c], 0 outside [T,S].
__device__ inline void load_mask_tile(uint8_t* Ms, const uint8_t* mask, int b, int q0, int k0,
                                      int rows, int cols, int T, int S) {
  for (int e = threadIdx.x; e < rows * cols; e += blockDim.x) {
    const int q = q0 + e / cols, k = k0 + e % cols;
    Ms[e] = (q < T && k < S) ? mask[(int64_t{b} * T + q) * S + k] : 0;
  }
}

// Reductions over the 16 threads of a row (one half-warp; all 32 lanes call).
__device__ inline float row_max(float v) {
  for (int o = kGrid / 2; o > 0; o >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ inline float row_sum(float v) {
  for (int o = kGrid / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

struct ForwardArgs {
  void* out;
  float* lse;
  const void* q;
  const void* k;
  const void* v;
  const uint8_t* mask;  // null: causal
  const uint8_t* cls;   // tile classes for (kFwdRows x kFwdKeys) tiles, with mask
  Dims d;
  float scale;
};

template <int DH>
constexpr size_t forward_smem() {
  return sizeof(float) * ((kFwdRows + 2 * kFwdKeys) * (DH + 1) + kFwdRows * (kFwdKeys + 1)) +
         kFwdRows * kFwdKeys;
}

// Grid (query tiles, H, B). DH is Dh rounded up to 64 or 128: it sizes the
// per-thread output columns (DH / 16) at compile time so they stay in registers.
template <typename T, int DH>
__global__ void __launch_bounds__(kThreads) attention_forward_kernel(ForwardArgs a) {
  constexpr int LD = DH + 1;  // odd row stride: 16 different rows -> 16 different banks
  constexpr int PLD = kFwdKeys + 1;
  constexpr int NC = DH / kGrid;  // output columns per thread
  extern __shared__ float smem[];
  float* Qs = smem;                // [kFwdRows][LD]
  float* Ks = Qs + kFwdRows * LD;  // [kFwdKeys][LD]
  float* Vs = Ks + kFwdKeys * LD;  // [kFwdKeys][LD]
  float* Ps = Vs + kFwdKeys * LD;  // [kFwdRows][PLD] probabilities of this step
  uint8_t* Ms = reinterpret_cast<uint8_t*>(Ps + kFwdRows * PLD);  // [kFwdRows][kFwdKeys]

  const Dims d = a.d;
  const int tx = threadIdx.x % kGrid, ty = threadIdx.x / kGrid;
  const int qt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, g = h / d.group;
  const int q0 = qt * kFwdRows, q1 = min(q0 + kFwdRows, d.T);
  const int shift = d.S - d.T;
  const int nqt = gridDim.x, nkt = (d.S + kFwdKeys - 1) / kFwdKeys;
  const bool causal = a.mask == nullptr;
  const T* q = static_cast<const T*>(a.q);
  const T* k = static_cast<const T*>(a.k);
  const T* v = static_cast<const T*>(a.v);

  load_tile<T, DH>(Qs, LD, q, b, q0, kFwdRows, d.T, d.H, h, d.Dh);

  float m[4], l[4], o[4][NC];  // rows ty + 16 i
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    m[i] = -INFINITY;
    l[i] = 0;
#pragma unroll
    for (int c = 0; c < NC; ++c) o[i][c] = 0;
  }

  // Causal: keys past the last row's diagonal are hidden from the whole tile.
  const int kt_end = causal ? min(nkt, (q1 - 1 + shift) / kFwdKeys + 1) : nkt;
  for (int kt = 0; kt < kt_end; ++kt) {
    const int k0 = kt * kFwdKeys, k1 = min(k0 + kFwdKeys, d.S);
    const int cls =
        causal ? causal_class(q0, q1, k0, k1, shift) : a.cls[(int64_t{b} * nqt + qt) * nkt + kt];
    if (cls == kHidden) continue;  // the same for every thread: the barriers stay matched
    __syncthreads();               // the previous step is done with Ks, Vs, Ps, Ms
    load_tile<T, DH>(Ks, LD, k, b, k0, kFwdKeys, d.S, d.Hkv, g, d.Dh);
    load_tile<T, DH>(Vs, LD, v, b, k0, kFwdKeys, d.S, d.Hkv, g, d.Dh);
    if (cls == kPartial && !causal)
      load_mask_tile(Ms, a.mask, b, q0, k0, kFwdRows, kFwdKeys, d.T, d.S);
    __syncthreads();

    // Scores for rows ty + 16 i, keys tx + 16 j.
    float s[4][2] = {};
#pragma unroll 4
    for (int c = 0; c < d.Dh; ++c) {
      float qv[4], kv[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) qv[i] = Qs[(ty + kGrid * i) * LD + c];
#pragma unroll
      for (int j = 0; j < 2; ++j) kv[j] = Ks[(tx + kGrid * j) * LD + c];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) s[i][j] = fmaf(qv[i], kv[j], s[i][j]);
    }

    // Online softmax: fold this step's scores into each row's running (m, l, o).
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int r = ty + kGrid * i, qi = q0 + r;
      float step_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int c = tx + kGrid * j, kj = k0 + c;
        const bool vis =
            qi < d.T && kj < d.S &&
            (cls == kVisible || (causal ? kj <= qi + shift : Ms[r * kFwdKeys + c] != 0));
        s[i][j] = vis ? s[i][j] * a.scale : -INFINITY;
        step_max = nan_max(step_max, s[i][j]);
      }
      const float m_new = nan_max(m[i], row_max(step_max));
      float alpha = 1.0f, psum = 0;
      if (m_new == -INFINITY) {  // nothing visible in this row yet: p = 0, o and l stay 0
#pragma unroll
        for (int j = 0; j < 2; ++j) s[i][j] = 0;
      } else {
        alpha = expf(m[i] - m_new);  // exp(-inf) = 0 on the row's first visible step
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          s[i][j] = expf(s[i][j] - m_new);
          psum += s[i][j];
        }
      }
      l[i] = l[i] * alpha + row_sum(psum);
      m[i] = m_new;
#pragma unroll
      for (int c = 0; c < NC; ++c) o[i][c] *= alpha;
#pragma unroll
      for (int j = 0; j < 2; ++j) Ps[r * PLD + tx + kGrid * j] = s[i][j];
    }
    __syncthreads();

    // o += P V for rows ty + 16 i, columns tx + 16 c.
    for (int j = 0; j < kFwdKeys; ++j) {
      float p[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) p[i] = Ps[(ty + kGrid * i) * PLD + j];
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const float vv = Vs[j * LD + tx + kGrid * c];
#pragma unroll
        for (int i = 0; i < 4; ++i) o[i][c] = fmaf(p[i], vv, o[i][c]);
      }
    }
  }

  T* out = static_cast<T*>(a.out);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int qi = q0 + ty + kGrid * i;
    if (qi >= d.T) continue;
    // l == 0: no visible key (out 0, lse -inf). A NaN l falls through and shows.
    const float inv = l[i] == 0 ? 0.0f : 1.0f / l[i];
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int col = tx + kGrid * c;
      if (col < d.Dh)
        out[((int64_t{b} * d.T + qi) * d.H + h) * d.Dh + col] = from_float<T>(o[i][c] * inv);
    }
    if (tx == 0)
      a.lse[(int64_t{b} * d.H + h) * d.T + qi] = l[i] == 0 ? -INFINITY : m[i] + logf(l[i]);
  }
}

// D[b,h,t] = dout[b,t,h,:] . out[b,t,h,:], one warp per row.
template <typename T>
__global__ void attention_dot_kernel(float* D, const T* dout, const T* out, Dims d) {
  const int lane = threadIdx.x & 31;
  const int64_t rows = int64_t{d.B} * d.T * d.H;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x >> 5);
  for (int64_t row = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) >> 5; row < rows;
       row += warps) {  // row = (b T + t) H + h
    float s = 0;
    for (int c = lane; c < d.Dh; c += 32)
      s += to_float(dout[row * d.Dh + c]) * to_float(out[row * d.Dh + c]);
    s = warp_sum(s);
    if (lane == 0) {
      const int64_t h = row % d.H, bt = row / d.H, t = bt % d.T, b = bt / d.T;
      D[(b * d.H + h) * d.T + t] = s;
    }
  }
}

struct BackwardArgs {
  float* dq;  // f32 [B,T,H,Dh], accumulated with atomics
  FloatArray dk;
  FloatArray dv;
  const void* dout;
  const void* q;
  const void* k;
  const void* v;
  const float* lse;
  const float* D;       // [B,H,T] from attention_dot_kernel
  const uint8_t* mask;  // null: causal
  const uint8_t* cls;   // tile classes for (kBwdRows x kBwdKeys) tiles, with mask
  Dims d;
  float scale;
};

template <int DH>
constexpr size_t backward_smem() {
  return sizeof(float) *
             (2 * (kBwdKeys + kBwdRows) * (DH + 1) + 2 * kBwdRows * (kBwdKeys + 1) + 2 * kBwdRows) +
         kBwdRows * kBwdKeys;
}

// Grid (key tiles, Hkv, B). A block owns kBwdKeys keys of one kv-head: it walks
// every (head of the group, query tile) that sees them, keeps dk and dv for its
// keys in registers (no other block writes them, so they are added to memory
// once, without atomics) and adds its share of dq with fp32 atomics (several
// key blocks contribute to each dq row).
template <typename T, int DH>
__global__ void __launch_bounds__(kThreads) attention_backward_kernel(BackwardArgs a) {
  constexpr int LD = DH + 1;
  constexpr int PLD = kBwdKeys + 1;
  constexpr int NC = DH / kGrid;
  extern __shared__ float smem[];
  float* Ks = smem;                                          // [kBwdKeys][LD]
  float* Vs = Ks + kBwdKeys * LD;                            // [kBwdKeys][LD]
  float* Qs = Vs + kBwdKeys * LD;                            // [kBwdRows][LD]
  float* dOs = Qs + kBwdRows * LD;                           // [kBwdRows][LD]
  float* Ps = dOs + kBwdRows * LD;                           // [kBwdRows][PLD]
  float* dSs = Ps + kBwdRows * PLD;                          // [kBwdRows][PLD]
  float* lse_s = dSs + kBwdRows * PLD;                       // [kBwdRows]
  float* D_s = lse_s + kBwdRows;                             // [kBwdRows]
  uint8_t* Ms = reinterpret_cast<uint8_t*>(D_s + kBwdRows);  // [kBwdRows][kBwdKeys]

  const Dims d = a.d;
  const int tx = threadIdx.x % kGrid, ty = threadIdx.x / kGrid;
  const int kt = blockIdx.x, g = blockIdx.y, b = blockIdx.z;
  const int k0 = kt * kBwdKeys, k1 = min(k0 + kBwdKeys, d.S);
  const int shift = d.S - d.T;
  const int nkt = gridDim.x, nqt = (d.T + kBwdRows - 1) / kBwdRows;
  const bool causal = a.mask == nullptr;
  const T* q = static_cast<const T*>(a.q);
  const T* dout = static_cast<const T*>(a.dout);

  load_tile<T, DH>(Ks, LD, static_cast<const T*>(a.k), b, k0, kBwdKeys, d.S, d.Hkv, g, d.Dh);
  load_tile<T, DH>(Vs, LD, static_cast<const T*>(a.v), b, k0, kBwdKeys, d.S, d.Hkv, g, d.Dh);

  float dk[2][NC] = {}, dv[2][NC] = {};  // keys ty + 16 i, columns tx + 16 c
  // Causal: the first query that sees key k0 is k0 - shift; earlier tiles are hidden.
  const int qt_begin = causal ? max(0, k0 - shift) / kBwdRows : 0;
  for (int h = g * d.group; h < (g + 1) * d.group; ++h) {
    for (int qt = qt_begin; qt < nqt; ++qt) {
      const int q0 = qt * kBwdRows, q1 = min(q0 + kBwdRows, d.T);
      const int cls =
          causal ? causal_class(q0, q1, k0, k1, shift) : a.cls[(int64_t{b} * nqt + qt) * nkt + kt];
      if (cls == kHidden) continue;  // uniform across the block
      __syncthreads();  // the previous step is done with Qs, dOs, Ps, dSs, Ms (and Ks, Vs are in)
      load_tile<T, DH>(Qs, LD, q, b, q0, kBwdRows, d.T, d.H, h, d.Dh);
      load_tile<T, DH>(dOs, LD, dout, b, q0, kBwdRows, d.T, d.H, h, d.Dh);
      for (int r = threadIdx.x; r < kBwdRows; r += blockDim.x) {
        const int qi = q0 + r;
        lse_s[r] = qi < d.T ? a.lse[(int64_t{b} * d.H + h) * d.T + qi] : -INFINITY;
        D_s[r] = qi < d.T ? a.D[(int64_t{b} * d.H + h) * d.T + qi] : 0.0f;
      }
      if (cls == kPartial && !causal)
        load_mask_tile(Ms, a.mask, b, q0, k0, kBwdRows, kBwdKeys, d.T, d.S);
      __syncthreads();

      // S = Q K^T and dP = dO V^T for queries ty + 16 i, keys tx + 16 j. The dot
      // product runs in the forward's order, so P matches the forward's lse.
      float s[2][2] = {}, dp[2][2] = {};
#pragma unroll 4
      for (int c = 0; c < d.Dh; ++c) {
        float qv[2], gv[2], kv[2], vv[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          qv[i] = Qs[(ty + kGrid * i) * LD + c];
          gv[i] = dOs[(ty + kGrid * i) * LD + c];
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          kv[j] = Ks[(tx + kGrid * j) * LD + c];
          vv[j] = Vs[(tx + kGrid * j) * LD + c];
        }
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            s[i][j] = fmaf(qv[i], kv[j], s[i][j]);
            dp[i][j] = fmaf(gv[i], vv[j], dp[i][j]);
          }
      }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int r = ty + kGrid * i, qi = q0 + r;
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int c = tx + kGrid * j, kj = k0 + c;
          // lse = -inf marks a row that sees nothing (and rows past T): P = 0.
          const bool vis =
              qi < d.T && kj < d.S && lse_s[r] != -INFINITY &&
              (cls == kVisible || (causal ? kj <= qi + shift : Ms[r * kBwdKeys + c] != 0));
          const float p = vis ? expf(s[i][j] * a.scale - lse_s[r]) : 0.0f;
          Ps[r * PLD + c] = p;
          dSs[r * PLD + c] = p * (dp[i][j] - D_s[r]);
        }
      }
      __syncthreads();

      // dv += P^T dO and dk += dS^T Q for keys ty + 16 i, columns tx + 16 c.
      for (int r = 0; r < kBwdRows; ++r) {
        float p[2], ds[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          p[i] = Ps[r * PLD + ty + kGrid * i];
          ds[i] = dSs[r * PLD + ty + kGrid * i];
        }
#pragma unroll
        for (int c = 0; c < NC; ++c) {
          const float gv = dOs[r * LD + tx + kGrid * c], qv = Qs[r * LD + tx + kGrid * c];
#pragma unroll
          for (int i = 0; i < 2; ++i) {
            dv[i][c] = fmaf(p[i], gv, dv[i][c]);
            dk[i][c] = fmaf(ds[i], qv, dk[i][c]);
          }
        }
      }

      // dq += scale dS K for queries ty + 16 i, columns tx + 16 c.
      float dq[2][NC] = {};
      for (int j = 0; j < kBwdKeys; ++j) {
        float ds[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) ds[i] = dSs[(ty + kGrid * i) * PLD + j];
#pragma unroll
        for (int c = 0; c < NC; ++c) {
          const float kv = Ks[j * LD + tx + kGrid * c];
#pragma unroll
          for (int i = 0; i < 2; ++i) dq[i][c] = fmaf(ds[i], kv, dq[i][c]);
        }
      }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int qi = q0 + ty + kGrid * i;
        if (qi >= d.T) continue;
        float* row = a.dq + ((int64_t{b} * d.T + qi) * d.H + h) * d.Dh;
#pragma unroll
        for (int c = 0; c < NC; ++c) {
          const int col = tx + kGrid * c;
          if (col < d.Dh) atomicAdd(row + col, a.scale * dq[i][c]);
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int kj = k0 + ty + kGrid * i;
    if (kj >= d.S) continue;
    const int64_t base = ((int64_t{b} * d.S + kj) * d.Hkv + g) * d.Dh;
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int col = tx + kGrid * c;
      if (col < d.Dh) {
        a.dk.add(base + col, a.scale * dk[i][c]);
        a.dv.add(base + col, dv[i][c]);
      }
    }
  }
}

// dq[i] += acc[i] when dq is bf16 (an f32 dq takes the atomics directly).
__global__ void add_f32_kernel(FloatArray dst, const float* src, int64_t n) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    dst.add(i, src[i]);
}

int ceil_div(int a, int b) {
  return (a + b - 1) / b;
}

Dims check_dims(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                const Tensor& mask) {
  if (q.ndim() != 4 || k.ndim() != 4)
    fail("cuda ", op, ": q and k must be 4-d, got ", shape_str(q.shape()), " and ",
         shape_str(k.shape()));
  const Dims d{static_cast<int>(q.dim(0)),
               static_cast<int>(q.dim(1)),
               static_cast<int>(k.dim(1)),
               static_cast<int>(q.dim(2)),
               static_cast<int>(k.dim(2)),
               static_cast<int>(q.dim(3)),
               0};
  if (k.dim(0) != d.B || k.dim(3) != d.Dh || v.shape() != k.shape())
    fail("cuda ", op, ": k ", shape_str(k.shape()), " / v ", shape_str(v.shape()),
         " do not match q ", shape_str(q.shape()));
  if (d.Hkv == 0 || d.H % d.Hkv != 0)
    fail("cuda ", op, ": heads ", d.H, " not divisible by kv-heads ", d.Hkv);
  if (d.Dh > 128) fail("cuda ", op, ": head dim ", d.Dh, " > 128 is not supported");
  if (mask.defined()) {
    require(mask, op, "mask", {DType::u8});
    if (mask.shape() != Shape{d.B, d.T, d.S})
      fail("cuda ", op, ": mask ", shape_str(mask.shape()), " expected ",
           shape_str({d.B, d.T, d.S}));
  } else if (d.S < d.T) {
    fail("cuda ", op, ": causal attention needs at least as many keys (", d.S, ") as queries (",
         d.T, ")");
  }
  if (d.B > 65535 || d.H > 65535)  // gridDim.z and gridDim.y limits
    fail("cuda ", op, ": batch ", d.B, " or heads ", d.H, " above 65535");
  Dims out = d;
  out.group = d.H / d.Hkv;
  return out;
}

// Tile classes of `mask` for tiles of rows x cols (see tile_class_kernel).
Tensor tile_classes(const Tensor& mask, const Dims& d, int rows, int cols) {
  const int nqt = ceil_div(d.T, rows), nkt = ceil_div(d.S, cols);
  Tensor cls = Tensor::empty({d.B, nqt, nkt}, DType::u8, Device::cuda);
  tile_class_kernel<<<dim3(nkt, nqt, d.B), 128, 0, stream()>>>(cls.u8(), mask.u8(), d.T, d.S, rows,
                                                               cols);
  CUDA_CHECK_LAUNCH();
  return cls;
}

// Kernels with more than 48 KiB of dynamic shared memory must say so first.
template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  if (bytes > device_props().sharedMemPerBlockOptin)
    fail("cuda attention: needs ", bytes, " bytes of shared memory per block, device allows ",
         device_props().sharedMemPerBlockOptin);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(bytes)));
}

template <typename T, int DH>
void launch_forward(const ForwardArgs& a) {
  constexpr size_t smem = forward_smem<DH>();
  static const bool ready = (allow_smem(attention_forward_kernel<T, DH>, smem), true);
  (void)ready;
  const dim3 grid(ceil_div(a.d.T, kFwdRows), a.d.H, a.d.B);
  attention_forward_kernel<T, DH><<<grid, kThreads, smem, stream()>>>(a);
  CUDA_CHECK_LAUNCH();
}

template <typename T, int DH>
void launch_backward(const BackwardArgs& a) {
  constexpr size_t smem = backward_smem<DH>();
  static const bool ready = (allow_smem(attention_backward_kernel<T, DH>, smem), true);
  (void)ready;
  const dim3 grid(ceil_div(a.d.S, kBwdKeys), a.d.Hkv, a.d.B);
  attention_backward_kernel<T, DH><<<grid, kThreads, smem, stream()>>>(a);
  CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_dot(float* D, const Tensor& dout, const Tensor& out, const Dims& d) {
  const int64_t rows = int64_t{d.B} * d.T * d.H;
  attention_dot_kernel<T><<<grid_for(rows * 32, kThreads), kThreads, 0, stream()>>>(
      D, static_cast<const T*>(dout.raw()), static_cast<const T*>(out.raw()), d);
  CUDA_CHECK_LAUNCH();
}

const std::initializer_list<DType> kFloat = {DType::f32, DType::bf16};

}  // namespace

void CudaBackend::attention_forward(const Tensor& out, const Tensor& lse, const Tensor& q,
                                    const Tensor& k, const Tensor& v, const Tensor& mask,
                                    float scale) {
  require(q, "attention_forward", "q", kFloat);
  require(k, "attention_forward", "k", {q.dtype()});
  require(v, "attention_forward", "v", {q.dtype()});
  require(out, "attention_forward", "out", {q.dtype()});
  require(lse, "attention_forward", "lse", {DType::f32});
  const Dims d = check_dims("attention_forward", q, k, v, mask);
  require_numel(out, q.numel(), "attention_forward", "out");
  require_numel(lse, int64_t{d.B} * d.H * d.T, "attention_forward", "lse");
  if (q.numel() == 0) return;
  Tensor cls;
  if (mask.defined()) cls = tile_classes(mask, d, kFwdRows, kFwdKeys);
  const ForwardArgs a{out.raw(),
                      lse.f32(),
                      q.raw(),
                      k.raw(),
                      v.raw(),
                      mask.defined() ? mask.u8() : nullptr,
                      mask.defined() ? cls.u8() : nullptr,
                      d,
                      scale};
  const bool bf16 = q.dtype() == DType::bf16, small = d.Dh <= 64;
  if (bf16)
    small ? launch_forward<__nv_bfloat16, 64>(a) : launch_forward<__nv_bfloat16, 128>(a);
  else
    small ? launch_forward<float, 64>(a) : launch_forward<float, 128>(a);
}

void CudaBackend::attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                     const Tensor& dout, const Tensor& q, const Tensor& k,
                                     const Tensor& v, const Tensor& out, const Tensor& lse,
                                     const Tensor& mask, float scale) {
  require(q, "attention_backward", "q", kFloat);
  require(k, "attention_backward", "k", {q.dtype()});
  require(v, "attention_backward", "v", {q.dtype()});
  require(out, "attention_backward", "out", {q.dtype()});
  require(dout, "attention_backward", "dout", {q.dtype()});
  require(dq, "attention_backward", "dq", kFloat);
  require(dk, "attention_backward", "dk", kFloat);
  require(dv, "attention_backward", "dv", kFloat);
  require(lse, "attention_backward", "lse", {DType::f32});
  const Dims d = check_dims("attention_backward", q, k, v, mask);
  require_numel(out, q.numel(), "attention_backward", "out");
  require_numel(dout, q.numel(), "attention_backward", "dout");
  require_numel(dq, q.numel(), "attention_backward", "dq");
  require_numel(dk, k.numel(), "attention_backward", "dk");
  require_numel(dv, k.numel(), "attention_backward", "dv");
  require_numel(lse, int64_t{d.B} * d.H * d.T, "attention_backward", "lse");
  if (q.numel() == 0 || k.numel() == 0) return;

  const bool bf16 = q.dtype() == DType::bf16, small = d.Dh <= 64;
  Tensor D = Tensor::empty({d.B, d.H, d.T}, DType::f32, Device::cuda);
  bf16 ? launch_dot<__nv_bfloat16>(D.f32(), dout, out, d)
       : launch_dot<float>(D.f32(), dout, out, d);

  // The atomics need an f32 target: dq itself when it is f32 (it accumulates
  // anyway), else a zeroed f32 buffer added into dq afterwards.
  Tensor dq_acc = dq;
  if (dq.dtype() != DType::f32) dq_acc = Tensor::zeros(q.shape(), DType::f32, Device::cuda);
  Tensor cls;
  if (mask.defined()) cls = tile_classes(mask, d, kBwdRows, kBwdKeys);
  const BackwardArgs a{dq_acc.f32(),
                       floats(dk),
                       floats(dv),
                       dout.raw(),
                       q.raw(),
                       k.raw(),
                       v.raw(),
                       lse.f32(),
                       D.f32(),
                       mask.defined() ? mask.u8() : nullptr,
                       mask.defined() ? cls.u8() : nullptr,
                       d,
                       scale};
  if (bf16)
    small ? launch_backward<__nv_bfloat16, 64>(a) : launch_backward<__nv_bfloat16, 128>(a);
  else
    small ? launch_backward<float, 64>(a) : launch_backward<float, 128>(a);
  if (!dq_acc.same_storage(dq)) {
    add_f32_kernel<<<grid_for(dq.numel(), kThreads), kThreads, 0, stream()>>>(
        floats(dq), dq_acc.f32(), dq.numel());
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace condense::cuda
