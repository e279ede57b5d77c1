"""AMQP helpers on aio-pika: topology, connection, request/reply, publisher, consumer."""
