/* page.h — a page served as one document, and the content security policy that lets it run.
 *
 * A highland point opens its join link over 32-64 kbit/s with loss and 600 ms round trips.
 * Each of the page's files came on a TCP + TLS connection of its own (answers close their
 * connections: libsoup 3.2 leaks kept-alive ones, server.c), and a connection there costs two
 * or three round trips before its first byte, and a lost SYN or handshake packet a second or
 * more of retransmission timeout: the lab measured 15-45 s to load the page. Written into the
 * page when it is served, its own stylesheet and scripts come with it, on its one connection.
 *
 * The policy still runs only our own code: an inlined script or style is allowed by the
 * SHA-256 of its text (CSP Level 2, "hash-source"), so an injected one, whose hash is not in
 * the header, does not run; 'unsafe-inline' is never given. The page's sources keep their
 * files (app.js is edited and tested as a file; /app.js is still served). A file whose text
 * would end its element early ("</script", "</style") stays a reference.
 *
 * Leaves out: images and fonts (the pages have none), and caching the assembled page (a few
 * small files read per request, a request a join).
 */
#ifndef DC_PAGE_H
#define DC_PAGE_H

#include <glib.h>

/* The policy every answer carries; script_hashes and style_hashes (each "" or a list of
 * " 'sha256-...'") are added to script-src and style-src. g_free it. */
char *dc_page_policy(const char *script_hashes, const char *style_hashes);

/* html (a page from web_dir) with each of its `<link rel="stylesheet" href="/NAME">` and
 * `<script src="/NAME"></script>` naming a file in web_dir written in as a <style> or
 * <script> element; *policy is the policy that lets exactly those run (g_free both). A
 * reference whose file cannot be read, or whose name is not a plain file name, is left as it
 * is (the browser asks for it and gets what the server answers). */
char *dc_page_inline(const char *web_dir, const char *html, gsize html_len, gsize *out_len, char **policy);

#endif
