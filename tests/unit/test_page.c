/* Unit tests for signaling/page: a page's own style and scripts written into it, and the
 * policy that lets exactly those run. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "signaling/page.h"

typedef struct {
  char *dir;
} web;

static void put(web *w, const char *name, const char *text) {
  char *path = g_build_filename(w->dir, name, NULL);
  g_assert_true(g_file_set_contents(path, text, -1, NULL));
  g_free(path);
}

static web make_web(void) {
  web w = {.dir = g_dir_make_tmp("dc-page-XXXXXX", NULL)};
  g_assert_nonnull(w.dir);
  put(&w, "app.js", "document.title = \"xin chào\";\n");
  put(&w, "style.css", "body { color: red; }\n");
  put(&w, "ends.js", "const s = '</SCRIPT>';\n");     /* would end its element early */
  put(&w, "ends.css", "/* </style> */ p { }\n");
  put(&w, "zero.js", "a");
  return w;
}

static void drop_web(web *w) {
  const char *names[] = {"app.js", "style.css", "ends.js", "ends.css", "zero.js"};
  for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
    char *path = g_build_filename(w->dir, names[i], NULL);
    g_unlink(path);
    g_free(path);
  }
  g_rmdir(w->dir);
  g_free(w->dir);
}

/* The hashes are those `openssl dgst -sha256 -binary | base64` gives for the files' bytes, as
 * a browser computes them over the element's text. */
#define APP_HASH "'sha256-vsejjzPVwkJjdBYhSs1aC6Pj3vbM4Cq4iW+HrVdmh7w='"
#define STYLE_HASH "'sha256-l2fpHp1LAzTlmh04npgBvGosXEpVAKPCx5FWh5ZbLBY='"

static void test_written_in_with_hashes(void) {
  web w = make_web();
  const char *html = "<!doctype html>\n<head><link rel=\"stylesheet\" href=\"/style.css\">\n"
                     "<link rel=\"icon\" href=\"data:,\"></head>\n<body><p>Điểm cầu</p>\n"
                     "<script src=\"/app.js\"></script>\n</body>\n";
  gsize len = 0;
  char *policy = NULL, *page = dc_page_inline(w.dir, html, strlen(html), &len, &policy);
  g_assert_cmpuint(len, ==, strlen(page));
  g_assert_cmpstr(page, ==, "<!doctype html>\n<head><style>body { color: red; }\n</style>\n"
                            "<link rel=\"icon\" href=\"data:,\"></head>\n<body><p>Điểm cầu</p>\n"
                            "<script>document.title = \"xin chào\";\n</script>\n</body>\n");
  if (!strstr(policy, "script-src 'self' " APP_HASH ";") || !strstr(policy, "style-src 'self' " STYLE_HASH ";") ||
      strstr(policy, "unsafe") || !strstr(policy, "frame-ancestors 'none'"))
    g_error("policy: %s", policy);
  g_free(page);
  g_free(policy);
  drop_web(&w);
}

/* A file that would close its element early, a file not there, a path for a name, a form we
 * do not write: each left as the reference it was, and nothing added to the policy. */
static void test_left_as_references(void) {
  web w = make_web();
  const char *html = "<script src=\"/ends.js\"></script><link rel=\"stylesheet\" href=\"/ends.css\">"
                     "<script src=\"/missing.js\"></script><script src=\"/../etc/x.js\"></script>"
                     "<script src=\"/sub/app.js\"></script><script src=\"https://example.org/app.js\"></script>"
                     "<script src=\"/app.js\" defer></script>";
  gsize len = 0;
  char *policy = NULL, *page = dc_page_inline(w.dir, html, strlen(html), &len, &policy);
  g_assert_cmpstr(page, ==, html);
  char *plain = dc_page_policy("", "");
  g_assert_cmpstr(policy, ==, plain);
  g_assert_nonnull(strstr(plain, "script-src 'self';"));
  g_free(plain);
  g_free(page);
  g_free(policy);
  drop_web(&w);
}

/* Two scripts: both in, both hashes; the same file twice is in twice. */
static void test_several(void) {
  web w = make_web();
  const char *html = "<script src=\"/zero.js\"></script><script src=\"/app.js\"></script><script src=\"/zero.js\"></script>";
  gsize len = 0;
  char *policy = NULL, *page = dc_page_inline(w.dir, html, strlen(html), &len, &policy);
  g_assert_cmpstr(page, ==, "<script>a</script><script>document.title = \"xin chào\";\n</script><script>a</script>");
  /* sha256("a") */
  const char *zero = "'sha256-ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs='";
  char *want = g_strdup_printf("script-src 'self' %s %s %s;", zero, APP_HASH, zero);
  if (!strstr(policy, want))
    g_error("policy %s lacks %s", policy, want);
  g_free(want);
  g_free(page);
  g_free(policy);
  drop_web(&w);
}

/* Bytes that are not UTF-8 are served as they came, with the plain policy. */
static void test_not_utf8(void) {
  web w = make_web();
  const char html[] = "<p>\xff\xfe</p><script src=\"/app.js\"></script>";
  gsize len = 0;
  char *policy = NULL, *page = dc_page_inline(w.dir, html, sizeof html - 1, &len, &policy);
  g_assert_cmpmem(page, len, html, sizeof html - 1);
  g_assert_null(strstr(policy, "sha256"));
  g_free(page);
  g_free(policy);
  drop_web(&w);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/page/written-in-with-hashes", test_written_in_with_hashes);
  g_test_add_func("/page/left-as-references", test_left_as_references);
  g_test_add_func("/page/several", test_several);
  g_test_add_func("/page/not-utf8", test_not_utf8);
  return g_test_run();
}
