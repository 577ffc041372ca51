/* strata-circuit.h: a circuit graph extracted from patching effects and lens results.
 *
 * Nodes are residual states (layer, position) and the components that write to them
 * (attention and MLP outputs at (layer, position), heads at (layer, head)); each carries its
 * patching effect and whether the lens decodes the target there. Edges connect a node to the
 * components it feeds, weighted by the measured effect of the downstream node; only nodes
 * and edges with |effect| >= threshold are kept. This is the data the circuit view draws. */
#pragma once

#include <glib.h>

#include "strata-enum.h"
#include "strata-lens.h"
#include "strata-patching.h"

G_BEGIN_DECLS

typedef enum {
  STRATA_NODE_RESID,  /* resid_pre at (layer, pos); layer L = final state */
  STRATA_NODE_ATTN,   /* attn_out at (layer, pos) */
  STRATA_NODE_MLP,    /* mlp_out at (layer, pos) */
  STRATA_NODE_HEAD,   /* head (layer, head) */
} StrataNodeKind;

/* Names "resid", "attn", "mlp", "head" (session files). */
extern const StrataEnumTable strata_node_kind_table;

/* The patch site whose map a node of this kind comes from (a head patched at one position is
 * a head node too); the probe JSON names a node's kind by it. STRATA_PATCH_N_SITES for a
 * value outside the enum. */
StrataPatchSite strata_node_kind_get_site (StrataNodeKind kind);

typedef struct {
  StrataNodeKind kind;
  int layer, pos, head;  /* head -1 unless a head node; pos -1 for a head over all positions */
  double effect;         /* patching score */
  double lens_prob;      /* lens probability of the target at (layer, pos); -1 if n/a */
  gboolean decodes;      /* the lens ranks the target top-1 there */
} StrataCircuitNode;

typedef struct {
  int from, to;          /* node indices */
  double weight;
} StrataCircuitEdge;

typedef struct {
  int n_layers, T;
  double threshold;
  char *target_name;
  GArray *nodes;         /* StrataCircuitNode */
  GArray *edges;         /* StrataCircuitEdge */
} StrataCircuit;

/* lens may be NULL (no decoding marks). */
StrataCircuit *strata_circuit_extract (const StrataPatchResult *patch, const StrataLensResult *lens,
                                       double threshold);
void strata_circuit_free (StrataCircuit *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataCircuit, strata_circuit_free)

G_END_DECLS
