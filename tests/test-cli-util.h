/* test-cli-util.h: running the real `strata` binary (STRATA_BIN) from a test, for
 * test-cli.c, test-series-cli.c and test-cli-device.c. */
#pragma once

#include <glib.h>
#include <sys/wait.h>

/* One run: the exit status (128 + the signal when killed) and what it printed. */
typedef struct {
  int status;
  char *out, *err;
} Run;

static inline void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static inline char *
data_path (const char *rel)
{
  return g_test_build_filename (G_TEST_DIST, "data", rel, NULL);
}

/* argv after the program name, NULL-terminated; `envp` the environment (NULL: this one). */
static inline void
strata_envp (Run *r, char **envp, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) g_getenv ("STRATA_BIN"));
  for (; *args; args++)
    g_ptr_array_add (argv, (char *) *args);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  int wait = 0;
  g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, &r->out, &r->err,
                &wait, &error);
  g_assert_no_error (error);
  r->status = WIFEXITED (wait) ? WEXITSTATUS (wait) : 128 + WTERMSIG (wait);
}

static inline void
strata (Run *r, const char *const *args)
{
  strata_envp (r, NULL, args);
}
