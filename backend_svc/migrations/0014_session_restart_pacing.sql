-- [HA] Restarts of sessions after a host failure are paced like job restarts.

-- A restarted session's restart slot: it is not started before (MODELPORT_RESTART_SPACING_S
-- after the previous restart's). NULL for a session as its user opened it.
ALTER TABLE sessions ADD COLUMN not_before timestamptz;
-- false while a restarted session waits for its slot: its StartSession is not sent yet.
ALTER TABLE sessions ADD COLUMN start_sent boolean NOT NULL DEFAULT true;

CREATE INDEX sessions_restart_slots ON sessions (not_before) WHERE not_before IS NOT NULL;
CREATE INDEX sessions_restarts_waiting ON sessions (not_before) WHERE NOT start_sent;
