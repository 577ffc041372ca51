/* strata-weights-device.c: loading weights into a device's memory through host staging
 * that holds one layer at a time (strata-weights-device.h). */
#include "strata-weights-device.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct _StrataWeightsStaging {
  char *host;            /* the staging arena (w->arena while loading), arena_bytes long */
  char *device_arena;    /* where the tensors end */
  char **direct;         /* tensors stored straight from the file, ascending */
  size_t n_direct, cap_direct;
  unsigned char *layer_sent; /* per layer: uploaded and released */
  size_t peak;
  StrataStatus status;   /* the first failure */
};

StrataWeights *
strata_weights_new_on_device (const StrataConfig *cfg, StrataMatrixDTypeFunc dtype_of, void *user,
                              const StrataBackend *device, StrataStatus *status)
{
  *status = STRATA_ERR_ARGUMENT;
  if (strata_config_check (cfg) || !strata_config_weights_size_typed (cfg, dtype_of, user))
    return NULL;
  *status = STRATA_ERR_MEMORY;
  StrataWeights *w = strata_weights_new_typed (cfg, dtype_of, user);
  if (!w || !device || device->host_memory) {
    if (w)
      *status = STRATA_OK;
    return w;
  }
  struct _StrataWeightsStaging *s = calloc (1, sizeof *s);
  if (!s) {
    strata_weights_free (w);
    return NULL;
  }
  s->host = w->arena;
  w->device = device;
  w->staging = s;
  if (!(s->layer_sent = calloc ((size_t) cfg->n_layers, 1)) ||
      !(s->device_arena = (char *) device->alloc (device, (w->arena_bytes + sizeof (float) - 1) / sizeof (float)))) {
    strata_weights_free (w);
    return NULL;
  }
  *status = STRATA_OK;
  return w;
}

void
_strata_weights_device_free (StrataWeights *w)
{
  struct _StrataWeightsStaging *s = w->staging;
  if (s && s->host) { /* a load that did not finish: w->arena is the staging */
    if (s->device_arena)
      w->device->free (w->device, s->device_arena);
    munmap (s->host, w->arena_bytes ? w->arena_bytes : 64);
  } else if (w->arena) {
    w->device->free (w->device, w->arena);
  }
  w->arena = NULL;
  if (s) {
    free (s->direct);
    free (s->layer_sent);
    free (s);
  }
  w->staging = NULL;
}

static int
is_direct (const struct _StrataWeightsStaging *s, const char *p)
{
  size_t lo = 0, hi = s->n_direct;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->direct[mid] == p)
      return 1;
    if (s->direct[mid] < p)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

static void
note_direct (struct _StrataWeightsStaging *s, char *p)
{
  if (is_direct (s, p))
    return;
  if (s->n_direct == s->cap_direct) {
    size_t cap = s->cap_direct ? 2 * s->cap_direct : 64;
    char **d = realloc (s->direct, cap * sizeof *d);
    if (!d) {
      s->status = STRATA_ERR_MEMORY;
      return;
    }
    s->direct = d;
    s->cap_direct = cap;
  }
  size_t i = s->n_direct;
  while (i > 0 && s->direct[i - 1] > p) {
    s->direct[i] = s->direct[i - 1];
    i--;
  }
  s->direct[i] = p;
  s->n_direct++;
}

void
strata_weights_store_bytes (StrataWeights *w, void *dst, const void *src, size_t bytes)
{
  struct _StrataWeightsStaging *s = w->staging;
  if (!s) {
    memcpy (dst, src, bytes);
    return;
  }
  if (s->status != STRATA_OK)
    return;
  note_direct (s, dst);
  StrataStatus st = w->device->upload (w->device, s->device_arena + ((char *) dst - s->host), src, bytes);
  if (st != STRATA_OK)
    s->status = st;
}

/* One pass over the tensors: upload the staged ones of `layer` (every unsent one when
 * layer is -1) and count what staging holds before they go. */
typedef struct {
  StrataWeights *w;
  int layer;
  size_t held;           /* bytes of staged tensors not yet released */
  char *lo, *hi;         /* the span of the layer's tensors */
} Send;

static int
send_cb (StrataWeightTensor *t, void *user)
{
  Send *sd = user;
  struct _StrataWeightsStaging *s = sd->w->staging;
  char *p = t->matrix ? t->mat->data : (char *) *t->vec;
  size_t bytes = strata_dtype_bytes (t->dtype, t->rows * t->cols);
  int unsent = t->layer < 0 || !s->layer_sent[t->layer];
  int mine = sd->layer < 0 ? unsent : t->layer == sd->layer;
  /* Layers past the one being sent are not written yet; the globals count from the start. */
  int written = sd->layer < 0 || t->layer <= sd->layer;
  if (!unsent || is_direct (s, p) || !written)
    return 0;
  sd->held += bytes;
  if (!mine)
    return 0;
  if (!sd->lo || p < sd->lo)
    sd->lo = p;
  if (p + bytes > sd->hi)
    sd->hi = p + bytes;
  if (s->status == STRATA_OK) {
    StrataStatus st = sd->w->device->upload (sd->w->device, s->device_arena + (p - s->host), p, bytes);
    if (st != STRATA_OK)
      s->status = st;
  }
  return 0;
}

/* Give back the whole pages inside [lo, hi): a later touch faults instead of writing data
 * that would never be uploaded. */
static void
release_pages (char *lo, char *hi)
{
  long page = sysconf (_SC_PAGESIZE);
  if (page <= 0 || !lo)
    return;
  uintptr_t a = ((uintptr_t) lo + (uintptr_t) page - 1) / (uintptr_t) page * (uintptr_t) page;
  uintptr_t b = (uintptr_t) hi / (uintptr_t) page * (uintptr_t) page;
  if (b <= a)
    return;
  madvise ((void *) a, b - a, MADV_DONTNEED);
  mprotect ((void *) a, b - a, PROT_NONE);
}

void
strata_weights_layer_loaded (StrataWeights *w, int layer)
{
  struct _StrataWeightsStaging *s = w->staging;
  if (!s || layer < 0 || layer >= w->cfg.n_layers || s->layer_sent[layer])
    return;
  Send sd = { w, layer, 0, NULL, NULL };
  strata_weights_visit (w, send_cb, &sd);
  if (sd.held > s->peak)
    s->peak = sd.held;
  s->layer_sent[layer] = 1;
  release_pages (sd.lo, sd.hi);
}

StrataStatus
strata_weights_finish_upload (StrataWeights *w)
{
  struct _StrataWeightsStaging *s = w->staging;
  if (!s)
    return STRATA_OK;
  Send sd = { w, -1, 0, NULL, NULL };
  strata_weights_visit (w, send_cb, &sd);
  if (sd.held > s->peak)
    s->peak = sd.held;
  StrataStatus st = s->status;
  if (st != STRATA_OK)
    return st;
  StrataLayerWeights *layers = calloc ((size_t) w->cfg.n_layers, sizeof *layers);
  if (!layers)
    return s->status = STRATA_ERR_MEMORY;
  StrataWeights on_device;
  strata_weights_rebase (w, s->device_arena, &on_device, layers);
  munmap (s->host, w->arena_bytes ? w->arena_bytes : 64);
  free (w->layers);
  *w = on_device;
  /* The weights own the device arena now; the staging keeps only its peak. */
  s->host = s->device_arena = NULL;
  return STRATA_OK;
}

int
strata_weights_loading (const StrataWeights *w)
{
  return w->staging && w->staging->host;
}

size_t
strata_weights_staging_peak (const StrataWeights *w)
{
  return w->staging ? w->staging->peak : 0;
}
