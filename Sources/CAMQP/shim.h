#ifndef PAGODA_CAMQP_SHIM_H
#define PAGODA_CAMQP_SHIM_H
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <amqp_framing.h>
#endif
