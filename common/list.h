/*
 * common/list.h - an intrusive, circular, doubly linked list.
 *
 * "Intrusive" means the links live inside the objects being listed: a task
 * carries a `struct list_node`, and putting the task on a queue only rewires
 * four pointers. Nothing is allocated, so queuing cannot fail, and an object
 * can remove itself from whatever list it is on in O(1).
 *
 * A list is a `struct list_node` used as a head: an empty list is a head whose
 * prev and next point at itself. `container_of` turns a node back into the
 * object that holds it.
 */
#ifndef COMMON_LIST_H
#define COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
    struct list_node *prev;
    struct list_node *next;
};

/* The object of type `type` whose field `member` is at address `ptr`. */
#define container_of(ptr, type, member) ((type *)(((char *)(ptr)) - offsetof(type, member)))

static inline void list_init(struct list_node *head)
{
    head->prev = head;
    head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
    return head->next == head;
}

/* Add `node` at the back of the list `head`. */
static inline void list_push_back(struct list_node *head, struct list_node *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

/*
 * Unlink `node` from whatever list it is on. The node is left pointing at
 * itself, so removing it twice, or removing a node that was only initialized,
 * is harmless.
 */
static inline void list_remove(struct list_node *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    list_init(node);
}

/* The first node, or NULL if the list is empty. */
static inline struct list_node *list_first(const struct list_node *head)
{
    return list_empty(head) ? NULL : head->next;
}

/* Unlink and return the first node, or NULL if the list is empty. */
static inline struct list_node *list_pop_front(struct list_node *head)
{
    struct list_node *node = list_first(head);
    if (node)
        list_remove(node);
    return node;
}

/*
 * Move every node of `from` onto the (empty) list `to`, leaving `from` empty.
 * Used before walking a list whose members may unlink themselves, or add new
 * members, while we walk it: we walk the private copy instead.
 */
static inline void list_move_all(struct list_node *from, struct list_node *to)
{
    list_init(to);
    if (list_empty(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    list_init(from);
}

#endif /* COMMON_LIST_H */
