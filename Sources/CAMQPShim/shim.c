#include "CAMQPShim.h"

amqp_rpc_reply_t pagoda_amqp_login_plain(amqp_connection_state_t state,
                                         const char *vhost, int channel_max,
                                         int frame_max, int heartbeat,
                                         const amqp_table_t *properties,
                                         const char *user,
                                         const char *password) {
  return amqp_login_with_properties(state, vhost, channel_max, frame_max,
                                    heartbeat, properties,
                                    AMQP_SASL_METHOD_PLAIN, user, password);
}

int pagoda_send_connection_close_ok(amqp_connection_state_t state) {
  amqp_connection_close_ok_t ok;
  ok.dummy = 0;
  return amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
}

int pagoda_send_channel_close_ok(amqp_connection_state_t state, amqp_channel_t channel) {
  amqp_channel_close_ok_t ok;
  ok.dummy = 0;
  return amqp_send_method(state, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
}

int pagoda_send_basic_cancel(amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t consumer_tag) {
  amqp_basic_cancel_t req;
  req.consumer_tag = consumer_tag;
  req.nowait = 0;
  return amqp_send_method(state, channel, AMQP_BASIC_CANCEL_METHOD, &req);
}
