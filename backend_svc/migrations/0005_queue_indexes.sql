-- Deep queues: the scheduler and queue positions read queued jobs by index, never all of them.

-- Each user's queued jobs in the scheduler's order within the user (priority high first, then
-- age): the scheduler's bounded window per user, and the per-level counts of queue positions.
CREATE INDEX jobs_queued_by_user ON jobs (user_id, priority DESC, created_at)
    INCLUDE (not_before) WHERE state = 'queued';

-- Queued jobs that wait for their start time, in the order they follow the due ones.
CREATE INDEX jobs_queued_waiting ON jobs (not_before, id)
    WHERE state = 'queued' AND not_before IS NOT NULL;

-- The jobs list: newest first, for everyone (admins) and per user.
CREATE INDEX jobs_newest ON jobs (created_at DESC, id);
CREATE INDEX jobs_user_newest ON jobs (user_id, created_at DESC, id);
