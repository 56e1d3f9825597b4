#ifndef PAGODA_CAMQP_SHIM_WRAPPERS_H
#define PAGODA_CAMQP_SHIM_WRAPPERS_H
#include <amqp.h>
#include <amqp_framing.h>
#include <stdint.h>

/* Non-variadic wrapper around amqp_login_with_properties (PLAIN SASL). */
amqp_rpc_reply_t pagoda_amqp_login_plain(amqp_connection_state_t state,
                                         const char *vhost, int channel_max,
                                         int frame_max, int heartbeat,
                                         const amqp_table_t *properties,
                                         const char *user,
                                         const char *password);

/* Method ids and flags are cast macros that Swift does not import. */
static inline amqp_method_number_t pagoda_method_basic_deliver(void) { return AMQP_BASIC_DELIVER_METHOD; }
static inline amqp_method_number_t pagoda_method_basic_ack(void) { return AMQP_BASIC_ACK_METHOD; }
static inline amqp_method_number_t pagoda_method_basic_nack(void) { return AMQP_BASIC_NACK_METHOD; }
static inline amqp_method_number_t pagoda_method_basic_return(void) { return AMQP_BASIC_RETURN_METHOD; }
static inline amqp_method_number_t pagoda_method_basic_cancel(void) { return AMQP_BASIC_CANCEL_METHOD; }
static inline amqp_method_number_t pagoda_method_basic_cancel_ok(void) { return AMQP_BASIC_CANCEL_OK_METHOD; }
static inline amqp_method_number_t pagoda_method_basic_get_ok(void) { return AMQP_BASIC_GET_OK_METHOD; }
static inline amqp_method_number_t pagoda_method_basic_get_empty(void) { return AMQP_BASIC_GET_EMPTY_METHOD; }
static inline amqp_method_number_t pagoda_method_channel_close(void) { return AMQP_CHANNEL_CLOSE_METHOD; }
static inline amqp_method_number_t pagoda_method_channel_close_ok(void) { return AMQP_CHANNEL_CLOSE_OK_METHOD; }
static inline amqp_method_number_t pagoda_method_connection_close(void) { return AMQP_CONNECTION_CLOSE_METHOD; }
static inline amqp_method_number_t pagoda_method_connection_close_ok(void) { return AMQP_CONNECTION_CLOSE_OK_METHOD; }
static inline amqp_method_number_t pagoda_method_connection_blocked(void) { return AMQP_CONNECTION_BLOCKED_METHOD; }
static inline amqp_method_number_t pagoda_method_connection_unblocked(void) { return AMQP_CONNECTION_UNBLOCKED_METHOD; }

/* Send connection.close-ok / channel.close-ok in reply to a broker close. */
int pagoda_send_connection_close_ok(amqp_connection_state_t state);
int pagoda_send_channel_close_ok(amqp_connection_state_t state, amqp_channel_t channel);
/* Send basic.cancel without waiting for cancel-ok (handled by the frame loop). */
int pagoda_send_basic_cancel(amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t consumer_tag);

/* Waking a connection thread that waits on its socket: an eventfd (non-blocking, close-on-exec). */
int pagoda_wake_open(void);
/* Makes the descriptor readable; returns 0, or -1 with errno. */
int pagoda_wake_signal(int fd);
/* Makes it unreadable again. */
void pagoda_wake_drain(int fd);
/* Waits until `socket_fd` or `wake_fd` is readable, or `timeout_ms` passes (EINTR counts as waking).
   Returns a mask: 1 when the socket is readable (or in error), 2 when `wake_fd` is readable. */
int pagoda_wait_readable(int socket_fd, int wake_fd, int timeout_ms);

#endif
