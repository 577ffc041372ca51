/* strata-weights-device.h: weights loaded straight into a device's memory.
 *
 * Loaders fill a StrataWeights through its tensor pointers, on the host. For weights made by
 * strata_weights_new_on_device() those pointers lead into a host staging area of the same
 * layout, backed by anonymous pages that are only touched when written; the device arena
 * exists from the start. As a loader finishes each layer it says so
 * (strata_weights_layer_loaded): the layer's tensors are uploaded one by one and its staging
 * pages go back to the system (and become inaccessible, so a late write faults instead of
 * being lost). A tensor the file holds exactly as the weights keep it goes from the file's
 * mapping to the device with no host copy (strata_weights_store_bytes). When the loader is done,
 * strata_weights_finish_upload() sends what is left and points every tensor at device memory.
 *
 * So a 16 GB BF16 checkpoint opens on a GPU with no 16 GB buffer on the host: what the host
 * holds at once is the tensors a loader had to convert, at most the embeddings and one layer.
 * For weights in host memory the three calls are a memcpy and two no-ops. */
#pragma once

#include "strata-backend.h"

/* Weights in `device`'s memory, filled through host staging as above, each matrix in the
 * dtype `dtype_of` chooses; for a host-memory backend (or NULL), strata_weights_new_typed().
 * NULL with *status set when the config is refused (STRATA_ERR_ARGUMENT) or memory runs out
 * on either side (STRATA_ERR_MEMORY). */
StrataWeights *strata_weights_new_on_device (const StrataConfig *cfg, StrataMatrixDTypeFunc dtype_of, void *user,
                                             const StrataBackend *device, StrataStatus *status);

/* `bytes` at `dst`, a tensor's whole data pointer (StrataMat.data or a vector), are `src`'s:
 * copied for host weights, uploaded from `src` at once for weights being loaded to a device
 * (its staging pages are never touched). */
void strata_weights_store_bytes (StrataWeights *w, void *dst, const void *src, size_t bytes);

/* Every tensor of `layer` is written: upload the ones still in staging and release their
 * pages. A failure is kept and returned by strata_weights_finish_upload(). */
void strata_weights_layer_loaded (StrataWeights *w, int layer);

/* Upload what no layer_loaded call sent, release the staging and point the tensors at the
 * device arena. The first upload failure of the load, or STRATA_OK. */
StrataStatus strata_weights_finish_upload (StrataWeights *w);

/* strata_weights_free()'s part for device weights (the arena, and staging left by a load
 * that failed). */
void _strata_weights_device_free (StrataWeights *w);

/* Whether `w` is being filled through staging (not finished): no engine runs it yet. */
int strata_weights_loading (const StrataWeights *w);

/* The most bytes staging held at once during the load so far (0 for host weights): the
 * measure of whether a loader releases each layer as it goes. */
size_t strata_weights_staging_peak (const StrataWeights *w);
