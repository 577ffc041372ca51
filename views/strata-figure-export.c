/* strata-figure-export.c: figures to PNG, SVG and PDF files, written atomically. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <cairo-svg.h>

#include "strata-figure-private.h"

typedef enum { FMT_PNG, FMT_SVG, FMT_PDF } Format;

static cairo_status_t
sink_write (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

/* Cairo draws text as glyph outlines in SVG; a <title> and <desc> keep the figure's words
 * searchable and readable by screen readers and by tests. */
static void
svg_add_description (GByteArray *svg, const StrataFigureInput *in)
{
  g_autofree char *title = NULL, *desc = NULL;
  strata_figure_describe (in, &title, &desc);
  g_autofree char *t = g_markup_escape_text (title ? title : "", -1);
  g_autofree char *d = g_markup_escape_text (desc ? desc : "", -1);
  g_autofree char *insert = g_strdup_printf ("\n<title>%s</title>\n<desc>%s</desc>", t, d);
  const char *start = (const char *) svg->data;
  const char *root = g_strstr_len (start, (gssize) svg->len, "<svg");
  const char *end = root ? memchr (root, '>', svg->len - (gsize) (root - start)) : NULL;
  if (!end)
    return;
  gsize head = (gsize) (end - start) + 1;
  g_autoptr (GByteArray) tail = g_byte_array_new ();
  g_byte_array_append (tail, svg->data + head, (guint) (svg->len - head));
  g_byte_array_set_size (svg, (guint) head);
  g_byte_array_append (svg, (const guint8 *) insert, (guint) strlen (insert));
  g_byte_array_append (svg, tail->data, tail->len);
}

static gboolean
write_all (int fd, const guint8 *data, gsize len, int *err)
{
  while (len > 0) {
    ssize_t n = write (fd, data, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      *err = errno;
      return FALSE;
    }
    data += n;
    len -= (gsize) n;
  }
  return TRUE;
}

static gboolean
format_of (const char *path, Format *fmt, GError **error)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);
  if (g_str_has_suffix (lower, ".png"))
    *fmt = FMT_PNG;
  else if (g_str_has_suffix (lower, ".svg"))
    *fmt = FMT_SVG;
  else if (g_str_has_suffix (lower, ".pdf"))
    *fmt = FMT_PDF;
  else {
    g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_FORMAT,
                 "%s: unknown figure format; the name must end in .png, .svg or .pdf", path);
    return FALSE;
  }
  return TRUE;
}

static cairo_status_t
render (Format fmt, GByteArray *sink, double width, double height, double scale, const StrataFigureInput *in)
{
  cairo_surface_t *surface;
  if (fmt == FMT_PNG) {
    int pw = (int) (width * scale + 0.5), ph = (int) (height * scale + 0.5);
    surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, MAX (pw, 1), MAX (ph, 1));
  } else if (fmt == FMT_SVG) {
    surface = cairo_svg_surface_create_for_stream (sink_write, sink, width, height);
  } else {
    surface = cairo_pdf_surface_create_for_stream (sink_write, sink, width, height);
    cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_CREATOR, "Strata");
  }
  cairo_t *cr = cairo_create (surface);
  if (fmt == FMT_PNG)
    cairo_scale (cr, scale, scale);
  strata_figure_draw (cr, width, height, in);
  cairo_status_t st = cairo_status (cr);
  cairo_destroy (cr);
  if (st == CAIRO_STATUS_SUCCESS && fmt == FMT_PNG)
    st = cairo_surface_write_to_png_stream (surface, sink_write, sink);
  cairo_surface_finish (surface);
  if (st == CAIRO_STATUS_SUCCESS)
    st = cairo_surface_status (surface);
  cairo_surface_destroy (surface);
  return st;
}

gboolean
strata_figure_export (const char *path, double width, double height, double scale,
                      const StrataFigureInput *in, GError **error)
{
  Format fmt;
  if (!format_of (path, &fmt, error))
    return FALSE;
  if (!(scale > 0 && scale <= 16) || !(width >= 16 && height >= 16 && width * scale <= 32768 && height * scale <= 32768)) {
    g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_WRITE,
                 "%s: figure size %gx%g at scale %g is out of range (scale 0-16, at most 32768 pixels a side)",
                 path, width, height, scale);
    return FALSE;
  }
  if (!strata_figure_has_data (in)) {
    g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_EMPTY,
                 "%s: nothing to export: the %s figure has no data in this analysis", path,
                 strata_figure_kind_to_string (in->kind));
    return FALSE;
  }

  /* Temporary file beside the target so the rename stays on one file system. */
  g_autofree char *tmp = g_strdup_printf ("%s.XXXXXX", path);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  cairo_status_t st = render (fmt, bytes, width, height, scale, in);
  if (st != CAIRO_STATUS_SUCCESS) {
    g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_WRITE, "%s: cannot draw the figure: %s", path,
                 cairo_status_to_string (st));
    return FALSE;
  }
  if (fmt == FMT_SVG)
    svg_add_description (bytes, in);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_WRITE, "%s: cannot create a file beside it: %s",
                 path, g_strerror (e));
    return FALSE;
  }
  int err = 0;
  gboolean ok = write_all (fd, bytes->data, bytes->len, &err);
  if (ok && fsync (fd) != 0)
    err = errno, ok = FALSE;
  if (close (fd) != 0 && ok)
    err = errno, ok = FALSE;
  if (ok && g_rename (tmp, path) != 0)
    err = errno, ok = FALSE;
  if (!ok) {
    g_unlink (tmp);
    g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_WRITE, "%s: cannot write the figure: %s", path,
                 g_strerror (err));
    return FALSE;
  }
  return TRUE;
}

gboolean
strata_figure_export_analysis (const StrataAnalysis *a, const StrataAnalysis *b, StrataFigureKind kind,
                               const StrataViewState *v, const char *path, double scale, GError **error)
{
  StrataViewState view = { 0 };
  if (v)
    view = *v;
  else
    view.layer = view.position = view.head = -1;
  view.figure = kind;
  StrataFigureInput in = { .kind = kind, .a = a, .b = b, .view = &view };
  double height = strata_figure_fit_height (&in, STRATA_FIGURE_DEFAULT_WIDTH, STRATA_FIGURE_DEFAULT_HEIGHT);
  return strata_figure_export (path, STRATA_FIGURE_DEFAULT_WIDTH, height, scale, &in, error);
}
