/* strata-backend-cpu.c: the reference backend. OpenBLAS (with its own threads) for every
 * matrix product, attention included; plain loops for the rest, which are memory-bound and
 * small. (An OpenMP pool beside OpenBLAS's threads made both spin against each other on two
 * cores and halved throughput.) Every other backend is checked against this one.
 *
 * Products run in F32. F16/BF16 matrices are taken too, for models whose F32 copy would not
 * fit in memory: each product converts a block of rows of the matrix at a time into a
 * scratch buffer, so a layer never exists in F32 whole. The TF32 and BF16 precisions are
 * emulated the same way (inputs rounded, then an fp32 product), so their error against
 * fp32 can be measured on any machine. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata-backend.h"
#include "strata-backend-cpu-grad.h"

static float *
cpu_alloc (const StrataBackend *be, size_t n_floats)
{
  size_t bytes = (n_floats ? n_floats : 1) * sizeof (float);
  bytes = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
  float *p = aligned_alloc (64, bytes);
  if (p)
    memset (p, 0, bytes);
  return p;
}

static void
cpu_free (const StrataBackend *be, void *p)
{
  free (p);
}

static StrataStatus
cpu_copy (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  if (bytes)
    memmove (dst, src, bytes);
  return STRATA_OK;
}

static StrataStatus
cpu_copy_many (const StrataBackend *be, const StrataCopy *copies, int n_copies)
{
  for (int i = 0; i < n_copies; i++)
    if (copies[i].n)
      memmove (copies[i].dst, copies[i].src, copies[i].n * sizeof (float));
  return STRATA_OK;
}

/* Rows of a 16-bit or block-quantized matrix converted per block: about 16 MB of F32 (at
 * least 64 rows), so each product stays large; for a product of one row (a decode step) about
 * 1 MB (at least 16 rows), which stays in cache between being written and being read (a 14336
 * x 4096 Q4_0 or BF16 matrix times one row: 36-39 ms instead of 52-58 ms on this machine;
 * from two rows on, the large blocks were as fast or faster). */
#define CONVERT_BLOCK_FLOATS ((size_t) 4 << 20)
#define CACHE_BLOCK_FLOATS ((size_t) 1 << 18)

static StrataStatus
cpu_linear (const StrataBackend *be, float *y, const float *x, const StrataMat *wm, const float *b,
            int R, int N, int K, StrataPrecision precision)
{
  float beta = 0.0f;
  if (b) {
    for (int r = 0; r < R; r++)
      memcpy (y + (size_t) r * N, b, (size_t) N * sizeof (float));
    beta = 1.0f;
  }
  if (wm->dtype == STRATA_DTYPE_F32 && precision == STRATA_PRECISION_FP32) {
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, R, N, K, 1.0f, x, K, wm->data, K, beta, y, N);
    return STRATA_OK;
  }
  /* y[:, n0:n0+nb] from rows n0..n0+nb of W converted to F32 and rounded to the precision
   * (a BF16 matrix is exact in both narrower precisions), with x rounded once. */
  int least = R == 1 ? 16 : 64;
  size_t rows = K > 0 ? (R == 1 ? CACHE_BLOCK_FLOATS : CONVERT_BLOCK_FLOATS) / (size_t) K : (size_t) N;
  int block = rows < (size_t) least ? least : rows > (size_t) N ? N : (int) rows;
  int round_w = precision != STRATA_PRECISION_FP32 && wm->dtype != STRATA_DTYPE_BF16;
  size_t xn = precision != STRATA_PRECISION_FP32 ? (size_t) R * K : 0;
  float *wf = malloc ((size_t) block * (K > 0 ? K : 1) * sizeof (float));
  float *xr = xn ? malloc (xn * sizeof (float)) : NULL;
  if (!wf || (xn && !xr)) {
    free (wf);
    free (xr);
    return STRATA_ERR_MEMORY;
  }
  if (xr) {
    memcpy (xr, x, xn * sizeof (float));
    strata_round_to_precision (precision, xr, xn);
    x = xr;
  }
  size_t row_bytes = strata_dtype_bytes (wm->dtype, (size_t) K);
  for (int n0 = 0; n0 < N; n0 += block) {
    int nb = N - n0 < block ? N - n0 : block;
    strata_dtype_to_f32 (wm->dtype, (const char *) wm->data + (size_t) n0 * row_bytes, wf, (size_t) nb * K);
    if (round_w)
      strata_round_to_precision (precision, wf, (size_t) nb * K);
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, R, nb, K, 1.0f, x, K, wf, K, beta, y + n0, N);
  }
  free (wf);
  free (xr);
  return STRATA_OK;
}

static void
layernorm_rows (float *y, const float *x, const float *w, const float *b, int R, int C, float eps)
{
  for (int r = 0; r < R; r++) {
    const float *xr = x + (size_t) r * C;
    float *yr = y + (size_t) r * C;
    double mean;
    float rstd = _strata_cpu_layernorm_stats (xr, C, eps, &mean);
    for (int c = 0; c < C; c++)
      yr[c] = (float) (xr[c] - mean) * rstd * w[c] + (b ? b[c] : 0.0f);
  }
}

/* unit_offset: the gain is 1 + w (Gemma), formed in float as transformers does. */
static void
rmsnorm_rows (float *y, const float *x, const float *w, int R, int C, float eps, int unit_offset)
{
  for (int r = 0; r < R; r++) {
    const float *xr = x + (size_t) r * C;
    float *yr = y + (size_t) r * C;
    double ss = 0;
    for (int c = 0; c < C; c++)
      ss += (double) xr[c] * xr[c];
    float rms = (float) (1.0 / sqrt (ss / C + eps));
    if (unit_offset)
      for (int c = 0; c < C; c++)
        yr[c] = xr[c] * rms * (1.0f + w[c]);
    else
      for (int c = 0; c < C; c++)
        yr[c] = xr[c] * rms * w[c];
  }
}

static StrataStatus
cpu_norm (const StrataBackend *be, float *y, const float *x, const float *w, const float *b, int R, int C,
          const StrataNormParams *p)
{
  if (p->kind == STRATA_NORM_LAYERNORM)
    layernorm_rows (y, x, w, b, R, C, p->eps);
  else
    rmsnorm_rows (y, x, w, R, C, p->eps, p->kind == STRATA_NORM_RMSNORM_UNIT_OFFSET);
  return STRATA_OK;
}

static StrataStatus
cpu_embed (const StrataBackend *be, float *out, const StrataMat *tm, const int32_t *ids, int R,
           int C)
{
  size_t row = strata_dtype_bytes (tm->dtype, (size_t) C);
  for (int r = 0; r < R; r++)
    strata_dtype_to_f32 (tm->dtype, (const char *) tm->data + (size_t) ids[r] * row, out + (size_t) r * C, (size_t) C);
  return STRATA_OK;
}

static StrataStatus
cpu_rope (const StrataBackend *be, float *x, int B, int T, int nh, int D, int pos0, const StrataRopeParams *p)
{
  if (p->pairing == STRATA_ROPE_NONE)
    return STRATA_OK;
  int dims = p->dims, half = dims / 2;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int h = 0; h < nh; h++) {
        float *v = x + (((size_t) b * T + t) * nh + h) * D;
        for (int i = 0; i < half; i++) {
          /* Frequency of pair i: theta^(-2i/dims), identical in both conventions; they
           * differ only in which two coordinates form the pair. */
          double angle = (pos0 + t) * pow (p->theta, -2.0 * i / dims);
          float c = (float) cos (angle), s = (float) sin (angle);
          int i0 = p->pairing == STRATA_ROPE_ADJACENT ? 2 * i : i;
          int i1 = p->pairing == STRATA_ROPE_ADJACENT ? 2 * i + 1 : i + half;
          float a = v[i0], bb = v[i1];
          v[i0] = a * c - bb * s;
          v[i1] = a * s + bb * c;
        }
      }
  return STRATA_OK;
}

/* Floats of scores one attention call holds when no pattern is asked for (4 MiB): the whole
 * (Tq, Tk) array of a head when it fits, else blocks of Tq rows that fill it. */
#define ATTN_SCRATCH_FLOATS ((size_t) 1 << 20)

/* Rows of scaled scores p (rows, Tk) of queries at positions i0..: soft-capped, then a causal
 * (windowed) softmax per row; every key a row does not see becomes 0. */
static void
softmax_rows (float *p, int Tk, int rows, int i0, const StrataAttnParams *a)
{
  float cap = a->softcap;
  for (int t = 0; t < rows; t++) {
    int i = i0 + t;
    float *row = p + (size_t) t * Tk;
    int lo = a->window > 0 && i >= a->window ? i - a->window + 1 : 0; /* first visible key */
    float mx = -INFINITY;
    for (int j = lo; j <= i; j++) {
      if (cap > 0)
        row[j] = cap * tanhf (row[j] / cap);
      mx = fmaxf (mx, row[j]);
    }
    double sum = 0;
    for (int j = lo; j <= i; j++) {
      row[j] = expf (row[j] - mx);
      sum += row[j];
    }
    float inv = (float) (1.0 / sum);
    for (int j = 0; j < lo; j++)
      row[j] = 0.0f;
    for (int j = lo; j <= i; j++)
      row[j] *= inv;
    for (int j = i + 1; j < Tk; j++)
      row[j] = 0.0f;
  }
}

/* Per head: scores p (Tq, Tk) = scale · q_h · k_hᵀ, a causal softmax per row, z_h = p · v_h.
 * With a pattern, p is the head's block of it. Without, blocks of query rows go through a
 * scratch of ATTN_SCRATCH_FLOATS: the same two products over fewer rows, every key included,
 * so the bits are the materialized pattern's. Blocks keep at least ATTN_SCRATCH_FLOATS / Tk
 * rows (the last one moves back rather than shrinking): OpenBLAS chooses its kernel by a
 * product's size (on SkylakeX a small-matrix kernel under 10^6 multiply-adds, which rounds
 * differently), and 64-row blocks moved the lens of stories260K by 5e-6 relative at T = 500. */
static StrataStatus
cpu_attention (const StrataBackend *be, float *z, float *pattern, const float *q, const float *k,
               const float *v, int B, int Tq, int Tk, int H, int K, int D, const StrataAttnParams *a)
{
  int group = H / K, q0 = Tk - Tq, block = Tq;
  float *scores = NULL;
  if (!pattern) {
    size_t fit = ATTN_SCRATCH_FLOATS / (size_t) (Tk > 0 ? Tk : 1);
    block = fit < 1 ? 1 : fit < (size_t) Tq ? (int) fit : Tq;
    scores = malloc ((size_t) (block > 0 ? block : 1) * Tk * sizeof (float));
    if (!scores)
      return STRATA_ERR_MEMORY;
  }
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      /* Strided views of one head: rows of q, k, v and z are H*D or K*D apart. */
      const float *qh = q + (size_t) b * Tq * H * D + (size_t) h * D;
      const float *kh = k + (size_t) b * Tk * K * D + (size_t) (h / group) * D;
      const float *vh = v + (size_t) b * Tk * K * D + (size_t) (h / group) * D;
      float *zh = z + (size_t) b * Tq * H * D + (size_t) h * D;
      for (int t0 = 0; t0 < Tq; t0 += block) {
        int start = t0 + block > Tq ? Tq - block : t0; /* the last block ends at Tq, full size */
        float *p = pattern ? pattern + ((size_t) b * H + h) * Tq * Tk : scores;
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, block, Tk, D, a->scale, qh + (size_t) start * H * D,
                     H * D, kh, K * D, 0.0f, p, Tk);
        softmax_rows (p, Tk, block, q0 + start, a);
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, block, D, Tk, 1.0f, p, Tk, vh, K * D, 0.0f,
                     zh + (size_t) start * H * D, H * D);
      }
    }
  free (scores);
  return STRATA_OK;
}

/* 0.5 u (1 + tanh t) = u · sigmoid(2t): the same function, written with expf, which costs
 * a third of tanhf (the GELU was a fifth of a patching sweep). */
static inline float
gelu_tanh (float u)
{
  const float k = 0.7978845608028654f; /* sqrt(2/pi) */
  return u / (1.0f + expf (-2.0f * k * (u + 0.044715f * u * u * u)));
}

static inline float
gelu_erf (float u)
{
  return 0.5f * u * (1.0f + erff (u * 0.70710678118654752f));
}

static inline float
silu (float u)
{
  return u / (1.0f + expf (-u));
}

/* One loop per function, so the branch is not taken per element. */
#define ACTIVATE(f)                                                                                \
  do {                                                                                             \
    if (up)                                                                                        \
      for (size_t i = 0; i < n; i++)                                                               \
        x[i] = f (x[i]) * up[i];                                                                   \
    else                                                                                           \
      for (size_t i = 0; i < n; i++)                                                               \
        x[i] = f (x[i]);                                                                           \
  } while (0)

static StrataStatus
cpu_activation (const StrataBackend *be, float *x, const float *up, size_t n, StrataActivation act)
{
  switch (act) {
  case STRATA_ACT_GELU_TANH: ACTIVATE (gelu_tanh); break;
  case STRATA_ACT_GELU_ERF: ACTIVATE (gelu_erf); break;
  case STRATA_ACT_SILU: ACTIVATE (silu); break;
  default: return STRATA_ERR_ARGUMENT;
  }
  return STRATA_OK;
}

static StrataStatus
cpu_scale (const StrataBackend *be, float *x, size_t n, float s)
{
  for (size_t i = 0; i < n; i++)
    x[i] *= s;
  return STRATA_OK;
}

static StrataStatus
cpu_softcap (const StrataBackend *be, float *x, size_t n, float cap)
{
  for (size_t i = 0; i < n; i++)
    x[i] = cap * tanhf (x[i] / cap);
  return STRATA_OK;
}

static StrataStatus
cpu_add (const StrataBackend *be, float *y, const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] += x[i];
  return STRATA_OK;
}

/* One row of logits (V): log-sum-exp (double, summed in id order), the top k (insertion keeps
 * the lower id first among equal logits) and the target ranks, in one pass. */
static void
summarise_row (const float *row, int V, const StrataLogitQuery *q, double *lse, int32_t *top_ids, float *top_logit,
               float *target_logit, int32_t *rank, int32_t *cand_rank)
{
  int k = q->k, n_t = q->n_targets;
  float mx = row[0];
  for (int v = 1; v < V; v++)
    mx = row[v] > mx ? row[v] : mx;
  int filled = 0;
  double sum = 0;
  for (int i = 0; i < n_t; i++) {
    rank[i] = 0;
    target_logit[i] = row[q->targets[i]];
  }
  for (int v = 0; v < V; v++) {
    float x = row[v];
    sum += exp ((double) x - mx);
    for (int i = 0; i < n_t; i++)
      rank[i] += x > target_logit[i];
    if (filled < k || x > top_logit[k - 1]) {
      int j = filled < k ? filled++ : k - 1;
      while (j > 0 && top_logit[j - 1] < x) {
        top_logit[j] = top_logit[j - 1];
        top_ids[j] = top_ids[j - 1];
        j--;
      }
      top_logit[j] = x;
      top_ids[j] = v;
    }
  }
  for (int i = 0; i < n_t && cand_rank; i++) {
    cand_rank[i] = 0;
    for (int c = 0; c < q->n_candidates; c++)
      cand_rank[i] += row[q->candidates[c]] > target_logit[i];
  }
  *lse = mx + log (sum);
}

static StrataStatus
cpu_logit_summary (const StrataBackend *be, const float *logits, int R, int V, const StrataLogitQuery *q,
                   StrataLogitSummary *out)
{
  size_t k = (size_t) q->k, n_t = (size_t) q->n_targets;
  for (int r = 0; r < R; r++)
    summarise_row (logits + (size_t) r * V, V, q, out->lse + r, out->top_ids + r * k, out->top_logit + r * k,
                   out->target_logit + r * n_t, out->target_rank + r * n_t, out->cand_rank ? out->cand_rank + r * n_t : NULL);
  return STRATA_OK;
}

/* Every operation of the CPU backend, shared by its two tables. */
#define CPU_OPERATIONS \
  .matrix_dtypes = (1u << STRATA_DTYPE_N) - 1, /* every dtype: blocks decode per product */ \
  .fast_dtypes = 1u << STRATA_DTYPE_F32, \
  .alloc = cpu_alloc, \
  .free = cpu_free, \
  .upload = cpu_copy, \
  .download = cpu_copy, \
  .copy = cpu_copy, \
  .copy_many = cpu_copy_many, \
  .linear = cpu_linear, \
  .norm = cpu_norm, \
  .embed = cpu_embed, \
  .rope = cpu_rope, \
  .attention = cpu_attention, \
  .activation = cpu_activation, \
  .add = cpu_add, \
  .scale = cpu_scale, \
  .softcap = cpu_softcap, \
  .logit_summary = cpu_logit_summary, \
  .linear_grad = _strata_cpu_linear_grad, \
  .norm_grad = _strata_cpu_norm_grad, \
  .activation_grad = _strata_cpu_activation_grad, \
  .attention_grad = _strata_cpu_attention_grad, \
  .cross_entropy_grad = _strata_cpu_cross_entropy_grad, \
  .embed_grad = _strata_cpu_embed_grad, \
  .sum_squares = _strata_cpu_sum_squares, \
  .adamw = _strata_cpu_adamw,

static const StrataBackend cpu_backend = {
  .name = "cpu",
  .host_memory = 1,
  CPU_OPERATIONS
};

/* The same operations on memory the engine treats as a device's: weights loaded through
 * staging, a pass's inputs uploaded and results downloaded, as on a GPU. */
static const StrataBackend cpu_as_device_backend = {
  .name = "cpu-as-device",
  .host_memory = 0,
  CPU_OPERATIONS
};

const StrataBackend *
strata_backend_cpu (void)
{
  return &cpu_backend;
}

const StrataBackend *
strata_backend_cpu_as_device (void)
{
  return &cpu_as_device_backend;
}
