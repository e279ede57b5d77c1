"""Modelport's client side, in two halves.

The SDK ships to app authors and into runtime containers: ``modelport.appkit`` (writing an
app), ``modelport.case`` (the case format) and ``modelport.agent`` (what runs an app in a
container or on a desktop). It imports nothing of the platform (``common``, the services) and
nothing of the tools (``tests/test_layout.py`` holds this).

The tools are what people run against a platform: ``modelport.cli`` (the ``modelport``
command), ``modelport.client`` (the REST client it uses) and ``modelport.devstack`` (the local
development stack with its embedded S3 server).
"""
