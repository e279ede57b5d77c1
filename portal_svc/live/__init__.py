"""Live updates to browsers: domain events from AMQP fanned out over SSE (``jobs``)."""
