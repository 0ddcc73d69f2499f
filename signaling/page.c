/* page.c — a page served as one document; see page.h. */
#include "signaling/page.h"

#include <stdbool.h>
#include <string.h>

char *dc_page_policy(const char *script_hashes, const char *style_hashes) {
  return g_strdup_printf("default-src 'self'; script-src 'self'%s; style-src 'self'%s; img-src 'self' data: blob:; "
                         "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
                         "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
                         script_hashes, style_hashes);
}

/* " 'sha256-BASE64'" of text, as CSP's hash-source has it. */
static void append_hash(GString *to, const char *text, gsize len) {
  GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
  g_checksum_update(sum, (const guchar *)text, (gssize)len);
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_checksum_get_digest(sum, digest, &digest_len);
  g_checksum_free(sum);
  char *b64 = g_base64_encode(digest, digest_len);
  g_string_append_printf(to, " 'sha256-%s'", b64);
  g_free(b64);
}

typedef struct {
  const char *web_dir;
  GString *script_hashes, *style_hashes;
} inlining;

/* Whether text (len bytes) has closer in any case: it would end its element early. */
static bool ends_element(const char *text, gsize len, const char *closer) {
  size_t n = strlen(closer);
  for (gsize i = 0; i + n <= len; i++)
    if (!g_ascii_strncasecmp(text + i, closer, n))
      return true;
  return false;
}

/* A reference (match group 1: a stylesheet's file name, group 2: a script's) written in, or
 * the reference as it was when its file cannot be. */
static gboolean write_in(const GMatchInfo *m, GString *out, gpointer data) {
  inlining *in = data;
  char *css = g_match_info_fetch(m, 1), *js = g_match_info_fetch(m, 2);
  bool is_script = js && *js;
  char *path = g_build_filename(in->web_dir, is_script ? js : css, NULL), *text = NULL;
  gsize len = 0;
  if (g_file_get_contents(path, &text, &len, NULL) && memchr(text, '\0', len) == NULL &&
      !ends_element(text, len, is_script ? "</script" : "</style")) {
    g_string_append(out, is_script ? "<script>" : "<style>");
    g_string_append_len(out, text, (gssize)len);
    g_string_append(out, is_script ? "</script>" : "</style>");
    append_hash(is_script ? in->script_hashes : in->style_hashes, text, len);
  } else {
    char *whole = g_match_info_fetch(m, 0);
    g_string_append(out, whole);
    g_free(whole);
  }
  g_free(text);
  g_free(path);
  g_free(css);
  g_free(js);
  return FALSE;
}

char *dc_page_inline(const char *web_dir, const char *html, gsize html_len, gsize *out_len, char **policy) {
  /* the two forms our pages write; a name is a plain file name in web_dir, never a path */
  static GRegex *reference;
  if (g_once_init_enter(&reference))
    g_once_init_leave(&reference, g_regex_new("<link rel=\"stylesheet\" href=\"/([A-Za-z0-9_-]+\\.css)\">"
                                              "|<script src=\"/([A-Za-z0-9_-]+\\.js)\"></script>",
                                              G_REGEX_OPTIMIZE, 0, NULL));
  inlining in = {.web_dir = web_dir, .script_hashes = g_string_new(NULL), .style_hashes = g_string_new(NULL)};
  char *page = NULL;
  if (g_utf8_validate_len(html, html_len, NULL)) /* GRegex's matching assumes it */
    page = g_regex_replace_eval(reference, html, (gssize)html_len, 0, 0, write_in, &in, NULL);
  if (page) {
    *out_len = strlen(page);
  } else { /* served as it is, with the plain policy */
    g_string_truncate(in.script_hashes, 0);
    g_string_truncate(in.style_hashes, 0);
    page = g_malloc(html_len + 1);
    memcpy(page, html, html_len);
    page[html_len] = '\0';
    *out_len = html_len;
  }
  *policy = dc_page_policy(in.script_hashes->str, in.style_hashes->str);
  g_string_free(in.script_hashes, TRUE);
  g_string_free(in.style_hashes, TRUE);
  return page;
}
