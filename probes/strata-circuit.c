/* strata-circuit.c: a thresholded graph of the states and components that carry the
 * patching effect.
 *
 * Information flow in a pre-norm block at layer l: resid_pre (l, p) is read by attention at
 * every position p' >= p (causal) and by the MLP at p (through resid_mid); attention and
 * MLP outputs at (l, p) are added into resid_pre (l+1, p); the MLP at (l, p) also reads the
 * attention output at (l, p). A head over every position reads every resid_pre (l, p) and
 * writes every resid_pre (l+1, p); a head patched at one position writes there only. The
 * final state (L, T-1) is always a node: patching it restores the answer by definition
 * (effect 1). An edge's weight is the effect of the node it points to. */
#include "strata-circuit.h"

#include <math.h>
#include <string.h>

/* Stored in sessions: append only (strata-enum.h). */
static const StrataEnumValue node_kind_values[] = {
  [STRATA_NODE_RESID] = { "resid" },
  [STRATA_NODE_ATTN] = { "attn" },
  [STRATA_NODE_MLP] = { "mlp" },
  [STRATA_NODE_HEAD] = { "head" },
};
G_STATIC_ASSERT (G_N_ELEMENTS (node_kind_values) == STRATA_NODE_HEAD + 1);
const StrataEnumTable strata_node_kind_table = STRATA_ENUM_TABLE ("circuit node kind", node_kind_values);

StrataPatchSite
strata_node_kind_get_site (StrataNodeKind kind)
{
  static const StrataPatchSite sites[] = {
    [STRATA_NODE_RESID] = STRATA_PATCH_RESID_PRE,
    [STRATA_NODE_ATTN] = STRATA_PATCH_ATTN_OUT,
    [STRATA_NODE_MLP] = STRATA_PATCH_MLP_OUT,
    [STRATA_NODE_HEAD] = STRATA_PATCH_HEAD,
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (sites) == G_N_ELEMENTS (node_kind_values));
  return (int) kind >= 0 && (int) kind < (int) G_N_ELEMENTS (sites) ? sites[kind] : STRATA_PATCH_N_SITES;
}

void
strata_circuit_free (StrataCircuit *c)
{
  if (!c)
    return;
  g_free (c->target_name);
  g_clear_pointer (&c->nodes, g_array_unref);
  g_clear_pointer (&c->edges, g_array_unref);
  g_free (c);
}

static const StrataLensTarget *
lens_target (const StrataPatchResult *patch, const StrataLensResult *lens)
{
  if (!lens)
    return NULL;
  const StrataLensTarget *t = strata_lens_result_get_target (lens, patch->target_name);
  for (guint i = 0; !t && i < lens->targets->len; i++)
    if (((StrataLensTarget *) lens->targets->pdata[i])->id == patch->target)
      t = lens->targets->pdata[i];
  return t;
}

static void
add_node (StrataCircuit *c, const StrataLensTarget *lt, int lens_T, StrataNodeKind kind, int layer,
          int pos, int head, double effect)
{
  StrataCircuitNode n = { kind, layer, pos, head, effect, -1, FALSE };
  /* The residual point a node is read at: resid_pre l is point l; a component's output is
   * first visible in point l + 1. */
  int point = kind == STRATA_NODE_RESID ? layer : layer + 1;
  if (lt && pos >= 0 && pos < lens_T && kind != STRATA_NODE_HEAD) {
    n.lens_prob = lt->prob[point * lens_T + pos];
    n.decodes = lt->rank[point * lens_T + pos] == 0;
  }
  g_array_append_val (c->nodes, n);
}

static gboolean
feeds (const StrataCircuitNode *a, const StrataCircuitNode *b, int n_layers)
{
  switch (a->kind) {
  case STRATA_NODE_RESID:
    if (b->kind == STRATA_NODE_ATTN)
      return b->layer == a->layer && b->pos >= a->pos;
    if (b->kind == STRATA_NODE_MLP)
      return b->layer == a->layer && b->pos == a->pos;
    if (b->kind == STRATA_NODE_HEAD)
      return b->layer == a->layer && (b->pos < 0 || b->pos >= a->pos);
    return b->kind == STRATA_NODE_RESID && b->layer == a->layer + 1 && b->pos == a->pos;
  case STRATA_NODE_ATTN:
    return (b->kind == STRATA_NODE_MLP && b->layer == a->layer && b->pos == a->pos) ||
           (b->kind == STRATA_NODE_RESID && b->layer == a->layer + 1 && b->pos == a->pos);
  case STRATA_NODE_MLP:
    return b->kind == STRATA_NODE_RESID && b->layer == a->layer + 1 && b->pos == a->pos;
  case STRATA_NODE_HEAD:
    return (b->kind == STRATA_NODE_RESID && b->layer == a->layer + 1 && (a->pos < 0 || b->pos == a->pos)) ||
           (b->kind == STRATA_NODE_MLP && b->layer == a->layer && (a->pos < 0 || b->pos == a->pos));
  }
  (void) n_layers;
  return FALSE;
}

StrataCircuit *
strata_circuit_extract (const StrataPatchResult *patch, const StrataLensResult *lens, double threshold)
{
  StrataCircuit *c = g_new0 (StrataCircuit, 1);
  int T = (int) patch->clean_ids->len;
  int L = 0;
  for (guint i = 0; i < patch->maps->len; i++)
    L = MAX (L, ((StrataPatchMap *) patch->maps->pdata[i])->rows);
  if (lens)
    L = lens->n_layers;
  c->n_layers = L, c->T = T;
  c->threshold = threshold;
  c->target_name = g_strdup (patch->target_name);
  c->nodes = g_array_new (FALSE, FALSE, sizeof (StrataCircuitNode));
  c->edges = g_array_new (FALSE, FALSE, sizeof (StrataCircuitEdge));
  const StrataLensTarget *lt = lens_target (patch, lens);
  int lens_T = lens ? lens->T : 0;

  for (guint i = 0; i < patch->maps->len; i++) {
    const StrataPatchMap *m = patch->maps->pdata[i];
    for (int row = 0; row < m->rows; row++)
      for (int col = 0; col < m->cols; col++) {
        double eff = m->score[row * m->cols + col];
        if (!(fabs (eff) >= threshold))
          continue;
        switch (m->site) {
        case STRATA_PATCH_RESID_PRE: add_node (c, lt, lens_T, STRATA_NODE_RESID, row, col, -1, eff); break;
        case STRATA_PATCH_ATTN_OUT: add_node (c, lt, lens_T, STRATA_NODE_ATTN, row, col, -1, eff); break;
        case STRATA_PATCH_MLP_OUT: add_node (c, lt, lens_T, STRATA_NODE_MLP, row, col, -1, eff); break;
        case STRATA_PATCH_HEAD: add_node (c, lt, lens_T, STRATA_NODE_HEAD, row, -1, col, eff); break;
        default: add_node (c, lt, lens_T, STRATA_NODE_HEAD, row, m->head_pos, col, eff); break;
        }
      }
  }
  add_node (c, lt, lens_T, STRATA_NODE_RESID, L, patch->answer_pos, -1, 1.0);

  for (guint a = 0; a < c->nodes->len; a++)
    for (guint b = 0; b < c->nodes->len; b++) {
      const StrataCircuitNode *na = &g_array_index (c->nodes, StrataCircuitNode, a);
      const StrataCircuitNode *nb = &g_array_index (c->nodes, StrataCircuitNode, b);
      if (a != b && feeds (na, nb, L)) {
        StrataCircuitEdge e = { (int) a, (int) b, nb->effect };
        g_array_append_val (c->edges, e);
      }
    }
  return c;
}
