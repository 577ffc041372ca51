/* write-sample-session: write the hand-built sample session (tests/session-sample.h) to a
 * file, for readers in other languages (tests/python/test_session_h5py.py).
 *
 *   write-sample-session OUT.h5 */
#include <stdio.h>

#include "session-sample.h"

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s OUT.h5\n", argv[0]);
    return 2;
  }
  const SampleOptions opts = { FALSE, 6, 2, 3 };
  g_autoptr (StrataSession) s = sample_session_new (&opts);
  GError *error = NULL;
  if (!strata_session_save (s, argv[1], &error)) {
    fprintf (stderr, "write-sample-session: %s\n", error->message);
    g_clear_error (&error);
    return 1;
  }
  return 0;
}
