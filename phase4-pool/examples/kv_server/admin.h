/*
 * admin.h - the commands that touch no key (admin.c): each is the reply
 * function (step 3, commands.h) of a row of the command table.
 */
#ifndef KV_ADMIN_H
#define KV_ADMIN_H

#include "commands.h"

/* The connection */
void admin_ping(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_echo(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_quit(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_select(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_hello(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_client_setname(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_client_getname(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_client_id(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_client_help(struct kv_request *r, struct kv_client *c, struct resp_out *out);

/* The server */
void admin_command(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_command_count(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_command_help(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_config_get(struct kv_request *r, struct kv_client *c, struct resp_out *out);
void admin_config_help(struct kv_request *r, struct kv_client *c, struct resp_out *out);

#endif /* KV_ADMIN_H */
