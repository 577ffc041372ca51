/* strata-backend-memory.c: how much memory a backend has free, for the checks that fail a
 * run before it allocates more than fits (instead of thrashing or an OOM kill). */
#include <stdint.h>
#include <stdlib.h>

#include "strata-backend.h"

size_t
strata_backend_memory_free (const StrataBackend *be)
{
  size_t free_bytes = be && be->memory_free ? be->memory_free (be) : strata_memory_available ();
  if (free_bytes == 0)
    free_bytes = SIZE_MAX;
  const char *limit = getenv ("STRATA_MEMORY_LIMIT");
  if (limit && *limit) {
    char *end;
    unsigned long long cap = strtoull (limit, &end, 10);
    if (*end == '\0' && cap < free_bytes)
      free_bytes = (size_t) cap;
  }
  return free_bytes;
}
