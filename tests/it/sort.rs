//! SORT and SORT_RO over lists, sets and sorted sets, compared with Redis.

use crate::support;

#[tokio::test]
async fn differential_sort() {
    support::diff_lines(&[
        "RPUSH l 3 1 2 10 -5 2.5",
        "SORT l",
        "SORT l DESC",
        "SORT l LIMIT 1 3",
        "SORT l LIMIT 2 -1",
        "SORT l LIMIT -1 2",
        "SORT l ALPHA",
        "SORT l ALPHA DESC LIMIT 0 2",
        "SORT_RO l DESC",
        "SORT_RO l STORE x",
        "RPUSH words banana apple cherry",
        "SORT words",
        "SORT words ALPHA",
        "SADD s 5 3 9 1",
        "SORT s",
        "SORT s DESC",
        "ZADD z 3 c 1 a 2 b",
        "SORT z ALPHA",
        "SORT z BY nosort",
        "SORT z BY nosort DESC",
        "SORT z BY nosort LIMIT 1 1",
        "MSET w_3 30 w_1 10 w_2 20 w_10 5 w_-5 1",
        "SORT l BY w_*",
        "SORT l BY w_* GET # GET w_*",
        "SORT l BY w_* GET nokey_*",
        "HSET h_1 name one",
        "HSET h_2 name two",
        "HSET h_3 name three",
        "SORT l BY w_* GET h_*->name",
        "SORT l BY h_*->name ALPHA GET #",
        "SORT l STORE dst",
        "LRANGE dst 0 -1",
        "TYPE dst",
        "SORT nokey",
        "SORT nokey STORE dst",
        "EXISTS dst",
        "SET str x",
        "SORT str",
        "SORT l BADOPT",
        "SORT l LIMIT 1",
        "SORT l LIMIT a b",
        "RPUSH bad 1 x 2",
        "SORT bad",
        "SORT bad ALPHA",
    ])
    .await;
}
