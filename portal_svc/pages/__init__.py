"""Server-rendered browser pages: sign-in and dashboard (``site``), apps and runtimes
(``registry``), cases, jobs. Templates live in ``portal_svc/templates``."""
