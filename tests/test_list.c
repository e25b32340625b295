/*
 * tests/test_list.c - the intrusive list (common/list.h) on its own: nodes
 * come off the front in the order they went on the back, a node removed is
 * left pointing at itself (so removing it again, or removing a node that was
 * only initialized, changes nothing), and list_move_all() moves every node,
 * in order, and leaves the list it took them from empty.
 */
#include "harness.h"

#include "common/list.h"

TEST_SINCE_PHASE(1);

struct item {
    int value;
    struct list_node node;
};

/* The values on `head`, front to back, into `out`; returns how many, checking both directions. */
static int values(const struct list_node *head, int *out, int max)
{
    int n = 0, back = 0;

    for (const struct list_node *p = head->next; p != head; p = p->next) {
        ck_assert_int_lt(n, max);
        ck_assert_ptr_eq(p->next->prev, p); /* every link agrees with its neighbour's */
        out[n++] = container_of(p, struct item, node)->value;
    }
    for (const struct list_node *p = head->prev; p != head; p = p->prev)
        back++;
    ck_assert_int_eq(back, n);
    return n;
}

START_TEST(a_removed_node_can_be_removed_again)
{
    struct list_node head;
    struct item a = {1, {0}}, b = {2, {0}}, c = {3, {0}}, lone = {4, {0}};
    int got[4];

    list_init(&head);
    list_push_back(&head, &a.node);
    list_push_back(&head, &b.node);
    list_push_back(&head, &c.node);
    ck_assert_int_eq(values(&head, got, 4), 3);
    ck_assert(got[0] == 1 && got[1] == 2 && got[2] == 3);

    list_remove(&b.node);
    ck_assert(list_empty(&b.node)); /* it points at itself */
    list_remove(&a.node);
    list_remove(&b.node); /* a second time, after its old neighbour left too: nothing happens */
    ck_assert_int_eq(values(&head, got, 4), 1);
    ck_assert_int_eq(got[0], 3);
    ck_assert_ptr_eq(head.prev, &c.node);
    ck_assert_ptr_eq(c.node.prev, &head);

    list_init(&lone.node);
    list_remove(&lone.node); /* only initialized: nothing happens */
    ck_assert_int_eq(values(&head, got, 4), 1);
    ck_assert_ptr_eq(list_pop_front(&head), &c.node);
    ck_assert(list_empty(&head));
    ck_assert_ptr_null(list_pop_front(&head));
}
END_TEST

START_TEST(move_all_moves_every_node_in_order)
{
    struct list_node from, to;
    struct item items[3] = {{1, {0}}, {2, {0}}, {3, {0}}};
    int got[4];

    list_init(&from);
    list_move_all(&from, &to); /* nothing to move: both empty */
    ck_assert(list_empty(&from) && list_empty(&to));
    for (int i = 0; i < 3; i++)
        list_push_back(&from, &items[i].node);
    list_move_all(&from, &to);
    ck_assert(list_empty(&from));
    ck_assert_int_eq(values(&to, got, 4), 3);
    ck_assert(got[0] == 1 && got[1] == 2 && got[2] == 3);
}
END_TEST

Suite *suite_list(void)
{
    Suite *s = suite_create("list");
    TCase *tc = test_case("list");

    tcase_add_test(tc, a_removed_node_can_be_removed_again);
    tcase_add_test(tc, move_all_moves_every_node_in_order);
    suite_add_tcase(s, tc);
    return s;
}
