#include "strata-status.h"

const char *
strata_status_to_string (StrataStatus status)
{
  switch (status) {
  case STRATA_OK: return "ok";
  case STRATA_ERR_ARGUMENT: return "invalid argument";
  case STRATA_ERR_MEMORY: return "out of memory";
  case STRATA_ERR_BACKEND: return "backend failure";
  case STRATA_ERR_UNSUPPORTED: return "unsupported";
  case STRATA_ERR_CANCELLED: return "cancelled";
  }
  return "unknown status";
}
