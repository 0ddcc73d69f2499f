/* Unit tests for signaling/protocol: each message type, and each kind of bad input getting
 * its stable error code. */
#include <glib.h>
#include <string.h>

#include "signaling/protocol.h"

static void ok(const char *text, dc_client_msg *m) {
  const char *code = NULL;
  char *message = NULL;
  if (!dc_protocol_parse(text, strlen(text), m, &code, &message))
    g_error("refused %s: %s %s", text, code, message);
}

static void bad(const char *text, const char *want_code, const char *needle) {
  dc_client_msg m;
  const char *code = NULL;
  char *message = NULL;
  g_assert_false(dc_protocol_parse(text, strlen(text), &m, &code, &message));
  g_assert_cmpstr(code, ==, want_code);
  if (needle && !strstr(message, needle))
    g_error("message \"%s\" lacks \"%s\"", message, needle);
  g_assert_null(m.token); /* nothing half-parsed is left behind */
  g_free(message);
}

static void test_messages(void) {
  dc_client_msg m;
  ok("{\"v\":1,\"type\":\"join\",\"meeting\":3,\"token\":\"dc1.x.y\",\"name\":\" Xã Tà Xùa \","
     "\"profile\":\"highland\",\"slots\":1}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_JOIN);
  g_assert_cmpint(m.meeting, ==, 3);
  g_assert_cmpstr(m.name, ==, "Xã Tà Xùa");
  g_assert_cmpstr(m.profile, ==, "highland");
  g_assert_cmpint(m.slots, ==, 1);
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"join\",\"meeting\":3,\"token\":\"t\",\"name\":\"A\"}", &m);
  g_assert_cmpstr(m.profile, ==, "standard"); /* defaults */
  g_assert_cmpint(m.slots, ==, 3);
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}", &m);
  g_assert_cmpstr(m.sdp, ==, "v=0\r\n");
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 1 127.0.0.1 5 typ host\",\"mid\":\"0\"}", &m);
  g_assert_cmpstr(m.mid, ==, "0");
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\"}", &m);
  g_assert_cmpstr(m.candidate, ==, "");
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"mute\",\"audio\":true}", &m);
  g_assert_true(m.audio_muted);
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"pin\",\"participant\":7}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_PIN);
  g_assert_cmpint(m.participant, ==, 7);
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"unpin\"}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_UNPIN);
  dc_client_msg_clear(&m);
  ok("{\"type\":\"leave\",\"v\":1,\"extra\":[1,2]}", &m); /* unknown members are ignored */
  g_assert_cmpint(m.type, ==, DC_MSG_LEAVE);
  dc_client_msg_clear(&m);
}

static void test_bad_input(void) {
  bad("", DC_ERR_CODE_BAD_MESSAGE, "JSON");
  bad("{", DC_ERR_CODE_BAD_MESSAGE, "JSON");
  bad("[1,2]", DC_ERR_CODE_BAD_MESSAGE, "object");
  bad("{\"type\":\"join\"}", DC_ERR_CODE_BAD_MESSAGE, "\"v\"");
  bad("{\"v\":2,\"type\":\"join\"}", DC_ERR_CODE_UNSUPPORTED_VERSION, "version 1");
  bad("{\"v\":1,\"type\":\"dance\"}", DC_ERR_CODE_UNKNOWN_TYPE, "dance");
  bad("{\"v\":1,\"type\":7}", DC_ERR_CODE_BAD_MESSAGE, "\"type\"");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":\"3\",\"token\":\"t\",\"name\":\"A\"}",
      DC_ERR_CODE_BAD_MESSAGE, "meeting");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":0,\"token\":\"t\",\"name\":\"A\"}",
      DC_ERR_CODE_BAD_MESSAGE, "meeting");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"name\":\"A\"}", DC_ERR_CODE_BAD_MESSAGE, "token");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"   \"}",
      DC_ERR_CODE_BAD_MESSAGE, "empty");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"A\",\"slots\":10}",
      DC_ERR_CODE_BAD_MESSAGE, "slots");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"A\",\"profile\":\"moon\"}",
      DC_ERR_CODE_BAD_MESSAGE, "profile");
  bad("{\"v\":1,\"type\":\"mute\",\"audio\":\"yes\"}", DC_ERR_CODE_BAD_MESSAGE, "audio");
  bad("{\"v\":1,\"type\":\"offer\"}", DC_ERR_CODE_BAD_MESSAGE, "sdp");
  bad("{\"v\":1,\"type\":\"pin\",\"participant\":0}", DC_ERR_CODE_BAD_MESSAGE, "participant");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"\xff\xfe\"}",
      DC_ERR_CODE_BAD_MESSAGE, "UTF-8");
  char *huge = g_strnfill(DC_PROTOCOL_MAX_MESSAGE + 1, ' ');
  bad(huge, DC_ERR_CODE_TOO_LARGE, "limited");
  g_free(huge);
}

static void test_writers(void) {
  char *e = dc_protocol_error("bad-message", "quote \" and newline \n");
  g_assert_cmpstr(e, ==, "{\"v\":1,\"type\":\"error\",\"code\":\"bad-message\",\"message\":\"quote \\\" and newline \\n\"}");
  g_free(e);
  char *a = dc_protocol_answer("v=0\r\n");
  g_assert_cmpstr(a, ==, "{\"v\":1,\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}");
  g_free(a);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/protocol/messages", test_messages);
  g_test_add_func("/protocol/bad-input", test_bad_input);
  g_test_add_func("/protocol/writers", test_writers);
  return g_test_run();
}
