/* strata-view-model.c: shared view state (Sysprof's "one selection object" pattern). */
#include "strata-view-model.h"

#include <math.h>
#include <string.h>

struct _StrataViewModel {
  GObject parent_instance;
  StrataAnalysis *analysis[2];
  GDestroyNotify free_func[2];
  StrataViewState state;
  StrataTokenTextFunc token_text;
  gpointer token_data;
  StrataSeries *series;          /* what the series figures draw, or NULL */
  GDestroyNotify series_free;
};

G_DEFINE_FINAL_TYPE (StrataViewModel, strata_view_model, G_TYPE_OBJECT)

enum { PROP_0, PROP_LAYER, PROP_POSITION, PROP_HEAD, PROP_COMPARE, PROP_LOG_COLOR, N_PROPS };
enum { CHANGED, N_SIGNALS };
static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static void
emit (StrataViewModel *self, int prop)
{
  if (prop > 0)
    g_object_notify_by_pspec (G_OBJECT (self), props[prop]);
  g_signal_emit (self, signals[CHANGED], 0);
}

static void
strata_view_model_finalize (GObject *object)
{
  StrataViewModel *self = STRATA_VIEW_MODEL (object);
  for (int i = 0; i < 2; i++)
    if (self->analysis[i] && self->free_func[i])
      self->free_func[i] (self->analysis[i]);
  if (self->series && self->series_free)
    self->series_free (self->series);
  g_free (self->state.target);
  g_free (self->state.tag);
  G_OBJECT_CLASS (strata_view_model_parent_class)->finalize (object);
}

static void
strata_view_model_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  StrataViewModel *self = STRATA_VIEW_MODEL (object);
  switch (id) {
  case PROP_LAYER: g_value_set_int (value, self->state.layer); break;
  case PROP_POSITION: g_value_set_int (value, self->state.position); break;
  case PROP_HEAD: g_value_set_int (value, self->state.head); break;
  case PROP_COMPARE: g_value_set_boolean (value, self->state.compare); break;
  case PROP_LOG_COLOR: g_value_set_boolean (value, self->state.log_color); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
strata_view_model_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  StrataViewModel *self = STRATA_VIEW_MODEL (object);
  switch (id) {
  case PROP_LAYER: strata_view_model_set_layer (self, g_value_get_int (value)); break;
  case PROP_POSITION: strata_view_model_set_position (self, g_value_get_int (value)); break;
  case PROP_HEAD: strata_view_model_set_head (self, g_value_get_int (value)); break;
  case PROP_COMPARE: strata_view_model_set_compare (self, g_value_get_boolean (value)); break;
  case PROP_LOG_COLOR: strata_view_model_set_log_color (self, g_value_get_boolean (value)); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
strata_view_model_class_init (StrataViewModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->finalize = strata_view_model_finalize;
  object_class->get_property = strata_view_model_get_property;
  object_class->set_property = strata_view_model_set_property;
  props[PROP_LAYER] = g_param_spec_int ("layer", NULL, NULL, -1, G_MAXINT, 0,
                                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_POSITION] = g_param_spec_int ("position", NULL, NULL, -1, G_MAXINT, -1,
                                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_HEAD] = g_param_spec_int ("head", NULL, NULL, -1, G_MAXINT, 0,
                                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_COMPARE] = g_param_spec_boolean ("compare", NULL, NULL, FALSE,
                                              G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_LOG_COLOR] = g_param_spec_boolean ("log-color", NULL, NULL, FALSE,
                                                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 0);
}

static void
strata_view_model_init (StrataViewModel *self)
{
  self->state.figure = STRATA_FIGURE_LENS_HEATMAP;
  self->state.layer = 0;
  self->state.position = -1;
  self->state.head = 0;
  self->state.run = self->state.checkpoint = -1;
}

StrataViewModel *
strata_view_model_new (void)
{
  return g_object_new (STRATA_TYPE_VIEW_MODEL, NULL);
}

void
strata_view_model_set_analysis (StrataViewModel *self, int index, StrataAnalysis *analysis,
                                GDestroyNotify free_func)
{
  g_return_if_fail (STRATA_IS_VIEW_MODEL (self) && (index == 0 || index == 1));
  if (self->analysis[index] == analysis)
    return;
  int T_before = strata_view_model_get_n_positions (self); /* read before the old one goes */
  if (self->analysis[index] && self->free_func[index])
    self->free_func[index] (self->analysis[index]);
  self->analysis[index] = analysis;
  self->free_func[index] = free_func;
  /* keep the selection inside the new result; another sequence shows whole at first */
  int max = strata_view_model_get_max_layer (self);
  if (max >= 0 && self->state.layer > max)
    self->state.layer = max;
  int T = strata_view_model_get_n_positions (self);
  if (self->state.position >= T)
    self->state.position = T - 1;
  if (T != T_before)
    self->state.range_first = self->state.range_count = 0;
  emit (self, 0);
}

StrataAnalysis *
strata_view_model_get_analysis (StrataViewModel *self, int index)
{
  g_return_val_if_fail (STRATA_IS_VIEW_MODEL (self) && (index == 0 || index == 1), NULL);
  return self->analysis[index];
}

StrataAnalysis *
strata_view_model_steal_analysis (StrataViewModel *self, int index)
{
  g_return_val_if_fail (STRATA_IS_VIEW_MODEL (self) && (index == 0 || index == 1), NULL);
  StrataAnalysis *a = self->analysis[index];
  self->analysis[index] = NULL;
  self->free_func[index] = NULL;
  if (a)
    emit (self, 0);
  return a;
}

void
strata_view_model_set_token_text (StrataViewModel *self, StrataTokenTextFunc func, gpointer data)
{
  self->token_text = func;
  self->token_data = data;
  emit (self, 0);
}

const StrataViewState *
strata_view_model_get_state (StrataViewModel *self)
{
  return &self->state;
}

void
strata_view_model_set_state (StrataViewModel *self, const StrataViewState *state)
{
  char *target = g_strdup (state->target), *tag = g_strdup (state->tag);
  g_free (self->state.target);
  g_free (self->state.tag);
  self->state = *state;
  self->state.target = target;
  self->state.tag = tag;
  /* -1 means "nothing selected" in a saved view (a CLI figure highlights nothing); the
   * window always has a selection: the final layer and the last position. */
  if (self->state.layer < 0)
    self->state.layer = MAX (strata_view_model_get_max_layer (self), 0);
  if (self->state.position < 0)
    self->state.position = MAX (strata_view_model_get_n_positions (self) - 1, 0);
  emit (self, PROP_LAYER);
}

/* The series figures select layers and positions of the series, not of analysis 0 (whose
 * model may have other sizes): while one shows, the bounds are the series'. */
static gboolean
series_shown (StrataViewModel *self)
{
  return self->series && STRATA_FIGURE_IS_SERIES (self->state.figure);
}

/* Residual points of the deepest checkpoint done (L + 1 of them: 0..L); -1 when none is. */
static int
series_max_layer (const StrataSeries *s)
{
  int max = -1;
  for (guint r = 0; r < s->runs->len; r++) {
    const StrataTrainingRun *tr = s->runs->pdata[r];
    for (guint c = 0; c < tr->checkpoints->len; c++) {
      const StrataSeriesCheckpoint *cp = tr->checkpoints->pdata[c];
      if (strata_series_checkpoint_is_done (cp))
        max = MAX (max, cp->model.config.n_layers);
    }
  }
  return max;
}

int
strata_view_model_get_max_layer (StrataViewModel *self)
{
  if (series_shown (self))
    return series_max_layer (self->series);
  StrataAnalysis *a = self->analysis[0];
  if (!a)
    return -1;
  if (a->lens_results && a->lens_results->len > 0)
    return ((StrataLensResult *) g_ptr_array_index (a->lens_results, 0))->n_layers;
  if (a->patch_results && a->patch_results->len > 0)
    return a->model.config.n_layers;
  return a->model.config.n_layers > 0 ? a->model.config.n_layers : -1;
}

int
strata_view_model_get_n_positions (StrataViewModel *self)
{
  /* Series aggregates read positions of the set's first prompt (strata-series.h). */
  if (series_shown (self))
    return self->series->prompts && self->series->prompts->prompts->len > 0
               ? (int) ((StrataPrompt *) self->series->prompts->prompts->pdata[0])->ids->len : 0;
  StrataAnalysis *a = self->analysis[0];
  if (!a || !a->lens_results || a->lens_results->len == 0)
    return 0;
  guint p = (guint) CLAMP (self->state.prompt, 0, (int) a->lens_results->len - 1);
  return ((StrataLensResult *) g_ptr_array_index (a->lens_results, p))->T;
}

void
strata_view_model_set_layer (StrataViewModel *self, int layer)
{
  int max = strata_view_model_get_max_layer (self);
  layer = max >= 0 ? CLAMP (layer, 0, max) : MAX (layer, 0);
  if (layer == self->state.layer)
    return;
  self->state.layer = layer;
  emit (self, PROP_LAYER);
}

int
strata_view_model_get_layer (StrataViewModel *self)
{
  return self->state.layer;
}

/* Keep the range inside the T positions, and the selection inside the range. */
static void
clamp_range (StrataViewState *v, int T)
{
  if (v->range_count <= 0)
    return;
  if (T <= 0 || v->range_count >= T) {
    v->range_first = v->range_count = 0;
    return;
  }
  if (v->position >= 0 && v->position < v->range_first)
    v->range_first = v->position;
  else if (v->position >= v->range_first + v->range_count)
    v->range_first = v->position - v->range_count + 1;
  v->range_first = CLAMP (v->range_first, 0, T - v->range_count);
}

void
strata_view_model_set_position (StrataViewModel *self, int position)
{
  int T = strata_view_model_get_n_positions (self);
  position = T > 0 ? CLAMP (position, -1, T - 1) : -1;
  if (position == self->state.position)
    return;
  self->state.position = position;
  clamp_range (&self->state, T);
  emit (self, PROP_POSITION);
}

void
strata_view_model_set_range (StrataViewModel *self, int first, int count)
{
  int T = strata_view_model_get_n_positions (self);
  StrataViewState old = self->state;
  self->state.range_first = MAX (first, 0);
  self->state.range_count = MAX (count, 1);
  if (self->state.range_first + self->state.range_count > T)
    self->state.range_first = MAX (T - self->state.range_count, 0);
  /* A range chosen on purpose keeps its place: the selection moves into it. */
  int p = self->state.position;
  if (T > 0 && self->state.range_count < T
      && (p < self->state.range_first || p >= self->state.range_first + self->state.range_count))
    self->state.position = CLAMP (p, self->state.range_first, self->state.range_first + self->state.range_count - 1);
  clamp_range (&self->state, T);
  if (old.range_first == self->state.range_first && old.range_count == self->state.range_count
      && old.position == self->state.position)
    return;
  emit (self, old.position != self->state.position ? PROP_POSITION : 0);
}

void
strata_view_model_get_range (StrataViewModel *self, int *first, int *count)
{
  int T = strata_view_model_get_n_positions (self);
  gboolean set = self->state.range_count > 0 && self->state.range_count < T;
  *first = set ? self->state.range_first : 0;
  *count = set ? self->state.range_count : T;
}

void
strata_view_model_zoom (StrataViewModel *self, double factor, int anchor)
{
  int first, count, T = strata_view_model_get_n_positions (self);
  strata_view_model_get_range (self, &first, &count);
  if (T <= 0 || !(factor > 0))
    return;
  if (anchor < 0)
    anchor = self->state.position >= 0 ? self->state.position : first + count / 2;
  anchor = CLAMP (anchor, 0, T - 1);
  /* at least 4 positions: fewer would not be a trace any more */
  int n = CLAMP ((int) lround (count * factor), MIN (4, T), T);
  if (n == count)
    n = CLAMP (count + (factor < 1 ? -1 : 1), MIN (4, T), T);
  double at = count > 0 ? (double) (anchor - first) / count : 0.5;
  int new_first = (int) lround (anchor - at * n);
  /* the selection stays in view: the anchor is usually it */
  int p = self->state.position;
  if (p >= 0 && n < T) {
    new_first = MIN (new_first, p);
    new_first = MAX (new_first, p - n + 1);
  }
  strata_view_model_set_range (self, new_first, n >= T ? T : n);
}

void
strata_view_model_scroll_range (StrataViewModel *self, int delta)
{
  int first, count, T = strata_view_model_get_n_positions (self);
  strata_view_model_get_range (self, &first, &count);
  if (count >= T)
    return;
  strata_view_model_set_range (self, CLAMP (first + delta, 0, T - count), count);
}

void
strata_view_model_center_range (StrataViewModel *self, int position)
{
  int first, count;
  strata_view_model_get_range (self, &first, &count);
  strata_view_model_scroll_range (self, position - count / 2 - first);
}

int
strata_view_model_find (StrataViewModel *self, const char *query, int from)
{
  StrataAnalysis *a = self->analysis[0];
  if (!query || !*query || !a || !a->lens_results || a->lens_results->len == 0)
    return -1;
  guint p = (guint) CLAMP (self->state.prompt, 0, (int) a->lens_results->len - 1);
  const StrataLensResult *r = g_ptr_array_index (a->lens_results, p);
  if (!r->pieces || r->pieces->len == 0)
    return -1;
  /* The decoded sequence, case-folded piece by piece, with where each piece starts. */
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (gsize));
  for (guint j = 0; j < r->pieces->len; j++) {
    g_array_append_val (starts, text->len);
    const char *piece = g_ptr_array_index (r->pieces, j);
    g_autofree char *valid = g_utf8_make_valid (piece ? piece : "", -1);
    g_autofree char *folded = g_utf8_casefold (valid, -1);
    g_string_append (text, folded);
  }
  g_autofree char *valid_query = g_utf8_make_valid (query, -1);
  g_autofree char *q = g_utf8_casefold (valid_query, -1);
  int n = (int) r->pieces->len;
  from = from < 0 ? 0 : from % n; /* past the end: round to the start */
  /* The match may begin inside a piece: report that piece. */
  for (int k = 0; k < n; k++) {
    int j = (from + k) % n;
    gsize begin = g_array_index (starts, gsize, j);
    gsize end = j + 1 < n ? g_array_index (starts, gsize, j + 1) : text->len;
    for (gsize at = begin; at < end; at++)
      if (strncmp (text->str + at, q, strlen (q)) == 0)
        return j;
  }
  return -1;
}

void
strata_view_model_set_head (StrataViewModel *self, int head)
{
  head = MAX (head, 0);
  if (head == self->state.head)
    return;
  self->state.head = head;
  emit (self, PROP_HEAD);
}

void
strata_view_model_set_figure (StrataViewModel *self, StrataFigureKind figure)
{
  if (figure == self->state.figure)
    return;
  self->state.figure = figure;
  /* Between series and checkpoint figures the bounds change: keep the selection inside. */
  int max = strata_view_model_get_max_layer (self), T = strata_view_model_get_n_positions (self);
  if (max >= 0 && self->state.layer > max)
    self->state.layer = max;
  if (self->state.position >= T)
    self->state.position = T - 1;
  emit (self, 0);
}

void
strata_view_model_set_target (StrataViewModel *self, const char *target)
{
  if (g_strcmp0 (target, self->state.target) == 0)
    return;
  g_free (self->state.target);
  self->state.target = target && *target ? g_strdup (target) : NULL;
  emit (self, 0);
}

void
strata_view_model_set_tag (StrataViewModel *self, const char *tag)
{
  /* "all" is the implicit tag of every prompt: stored as NULL so both spellings agree. */
  if (tag && (!*tag || strcmp (tag, "all") == 0))
    tag = NULL;
  if (g_strcmp0 (tag, self->state.tag) == 0)
    return;
  g_free (self->state.tag);
  self->state.tag = g_strdup (tag);
  emit (self, 0);
}

void
strata_view_model_set_patch_site (StrataViewModel *self, StrataPatchSite site)
{
  if (site == self->state.patch_site)
    return;
  self->state.patch_site = site;
  emit (self, 0);
}

void
strata_view_model_set_curve (StrataViewModel *self, StrataCurveQuantity curve)
{
  if (curve == self->state.curve)
    return;
  self->state.curve = curve;
  emit (self, 0);
}

void
strata_view_model_set_log_color (StrataViewModel *self, gboolean log_color)
{
  if (!log_color == !self->state.log_color)
    return;
  self->state.log_color = log_color;
  emit (self, PROP_LOG_COLOR);
}

void
strata_view_model_set_trace (StrataViewModel *self, int topk, gboolean anywhere)
{
  topk = MAX (topk, 1);
  if (topk == MAX (self->state.trace.topk, 1) && !anywhere == !self->state.trace.anywhere)
    return;
  self->state.trace = (StrataTraceOptions) { topk, anywhere };
  emit (self, 0);
}

void
strata_view_model_set_compare (StrataViewModel *self, gboolean compare)
{
  if (!compare == !self->state.compare)
    return;
  self->state.compare = compare;
  emit (self, PROP_COMPARE);
}

void
strata_view_model_set_prompt (StrataViewModel *self, int prompt)
{
  if (prompt == self->state.prompt)
    return;
  self->state.prompt = MAX (prompt, 0);
  emit (self, 0);
}

void
strata_view_model_fill_input (StrataViewModel *self, StrataFigureKind kind, StrataFigureInput *in)
{
  in->kind = kind;
  in->a = self->analysis[0];
  in->b = self->state.compare ? self->analysis[1] : NULL;
  in->view = &self->state;
  in->token_text = self->token_text;
  in->token_data = self->token_data;
  in->series = self->series;
}

void
strata_view_model_set_series (StrataViewModel *self, StrataSeries *series, GDestroyNotify free_func)
{
  g_return_if_fail (STRATA_IS_VIEW_MODEL (self));
  if (self->series != series && self->series && self->series_free)
    self->series_free (self->series);
  self->series = series;
  self->series_free = free_func;
  g_signal_emit (self, signals[CHANGED], 0);
}

StrataSeries *
strata_view_model_get_series (StrataViewModel *self)
{
  return self->series;
}

void
strata_view_model_set_checkpoint (StrataViewModel *self, int run, int checkpoint)
{
  if (self->state.run == run && self->state.checkpoint == checkpoint)
    return;
  self->state.run = run;
  self->state.checkpoint = checkpoint;
  g_signal_emit (self, signals[CHANGED], 0);
}
