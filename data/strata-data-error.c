#include "strata-data-error.h"

G_DEFINE_QUARK (strata-data-error-quark, strata_data_error)
