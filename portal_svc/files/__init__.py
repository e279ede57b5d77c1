"""Bytes in and out of the bucket: streamed uploads checked on the way (``bodies``,
``bridge``, ``checks``, ``streaming``), runtime and app packages (``packages``) with the keys
and limits they are checked against (``trust``), cases (``cases``, ``downloads``), job logs and
results (``job_files``), and the portal's view of the bucket (``bucket``, ``stores``)."""
