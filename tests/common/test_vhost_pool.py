"""The tests' vhost pool (tests/support/infra.py) against the shared RabbitMQ: a vhost still
taken (a module fixture's) survives the batch deletion the other tests' give-backs start,
and the pool's close deletes every vhost it made."""

from __future__ import annotations

from tests.support import infra


def vhosts() -> set[str]:
    return set(infra._rabbitmqctl("list_vhosts", "name").split())


def test_a_taken_vhost_outlives_the_batch_deletion_and_close_deletes_all() -> None:
    pool = infra.VhostPool(batch=2)
    try:
        held, _ = pool.take()  # a module fixture's, in use across the batch below
        done = []
        for _ in range(2):
            name, _ = pool.take()
            pool.give_back(name)
            done.append(name)
        present = vhosts()
        assert held in present
        assert not set(done) & present  # the batch of two given back went
        unused, _ = pool.take()
    finally:
        pool.close()
    assert not {held, unused} & vhosts()
