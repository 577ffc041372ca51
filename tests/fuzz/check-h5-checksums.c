/* check-h5-checksums.c: the fuzzer's checksum fixer (h5-checksums.h) recomputes exactly the
 * checksums HDF5 wrote: run on valid files it must change no byte.
 *     check-h5-checksums FILE.h5...     (exit status 1 on the first difference) */
#include <stdio.h>

#include "h5-checksums.h"

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    gchar *data = NULL;
    gsize size = 0;
    if (!g_file_get_contents (argv[i], &data, &size, NULL)) {
      fprintf (stderr, "%s: cannot read\n", argv[i]);
      return 1;
    }
    guint8 *copy = g_memdup2 (data, size);
    h5_checksums_written = 0;
    fix_checksums (copy, size);
    unsigned written = h5_checksums_written;
    guint headers = 0;
    for (gsize p = 0; p + 4 <= size; p++)
      headers += memcmp (data + p, "OHDR", 4) == 0 || memcmp (data + p, "OCHK", 4) == 0;
    for (gsize p = 0; p < size; p++)
      if (copy[p] != (guint8) data[p]) {
        fprintf (stderr, "%s: byte %" G_GSIZE_FORMAT " differs after recomputing the checksums\n", argv[i], p);
        return 1;
      }
    /* ... and a checksum broken on purpose is repaired. */
    if (size > 48) {
      copy[44] ^= 0xff;
      fix_checksums (copy, size);
      if (copy[44] != (guint8) data[44]) {
        fprintf (stderr, "%s: the superblock checksum is not recomputed\n", argv[i]);
        return 1;
      }
    }
    /* Every chunk found by its signature was recomputed (signatures inside raw data aside). */
    if (written + 8 < headers) {
      fprintf (stderr, "%s: %u checksums recomputed for %u object header chunks\n", argv[i], written, headers);
      return 1;
    }
    printf ("%s: %" G_GSIZE_FORMAT " bytes, %u checksums (superblock, %u object header chunks) recomputed unchanged\n",
            argv[i], size, written, headers);
    g_free (copy);
    g_free (data);
  }
  return 0;
}
