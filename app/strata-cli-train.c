/* strata-cli-train.c: what `strata train` and `strata study` share: the device a trainer can
 * run on, and the training progress on stderr (a bar on a terminal, one line per
 * evaluation otherwise). */
#include <stdio.h>
#include <unistd.h>

#include "strata-cli.h"

const StrataBackend *
strata_cli_train_device (const char *name, const StrataBackend **chosen, GError **error)
{
  StrataDeviceChoice choice;
  const StrataBackend *be = strata_cli_device (name, &choice, error);
  if (chosen)
    *chosen = be;
  if (!be || be->adamw)
    return be;
  /* Only the CPU backend has the training operations: auto trains there; an explicit
   * device without them is refused by the trainer with its own message. */
  if (g_strcmp0 (choice.asked, "auto") == 0) {
    fprintf (stderr, "strata: training runs on the CPU (the %s backend has no training operations)\n", be->name);
    return strata_backend_cpu ();
  }
  return be;
}

void
strata_cli_train_progress_init (StrataCliTrainProgress *p, const char *name)
{
  *p = (StrataCliTrainProgress) { .name = name, .tty = isatty (STDERR_FILENO), .start = g_get_monotonic_time () };
}

void
strata_cli_train_progress_cb (int step, int total, double loss, const StrataTrainEval *eval, gpointer data)
{
  StrataCliTrainProgress *p = data;
  gint64 now = g_get_monotonic_time ();
  if (p->first_step == 0)
    p->first_step = step, p->start = now;
  if (eval) {
    fprintf (stderr, "%s%s step %d/%d: loss %.4f", p->tty ? "\r\033[K" : "", p->name, step, total, eval->loss);
    for (int i = 0; i < STRATA_TRAIN_EVAL_N; i++)
      fprintf (stderr, ", %s %.3f", strata_train_eval_set_name ((StrataTrainEvalSet) i), eval->exact[i]);
    fprintf (stderr, "\n");
    p->last = 0;
  }
  if (!p->tty || (now - p->last < 200000 && step < total))
    return;
  p->last = now;
  enum { WIDTH = 30 };
  int filled = (int) ((double) WIDTH * step / total);
  double per_step = step > p->first_step ? (now - p->start) / 1e6 / (step - p->first_step) : 0;
  char bar[WIDTH + 1];
  for (int i = 0; i < WIDTH; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[WIDTH] = '\0';
  fprintf (stderr, "\r\033[K%s [%s] %d/%d loss %.4f, %.2f s/step, %.0f s left", p->name, bar, step, total, loss,
           per_step, per_step * (total - step));
  if (step == total)
    fprintf (stderr, "\n");
  fflush (stderr);
}
