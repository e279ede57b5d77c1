"""What more than one Modelport service needs: settings, logging, contracts, AMQP, S3."""
